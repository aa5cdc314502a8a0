// kstatus-check prints the kstatus status (sigs.k8s.io/cli-utils/pkg/kstatus) of the Kubernetes
// object read as JSON from stdin, as "STATUS<TAB>MESSAGE": what kstatus-based tools (Flux,
// kpt, cli-utils' apply) make of a TestRun. Used by Proctor's tests/gitops.rs.
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus-check: reading stdin:", err)
		os.Exit(2)
	}
	// The unstructured decoder keeps integers int64, as the API machinery does.
	obj := &unstructured.Unstructured{}
	if err := obj.UnmarshalJSON(data); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus-check: parsing JSON:", err)
		os.Exit(2)
	}
	res, err := status.Compute(obj)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus-check:", err)
		os.Exit(2)
	}
	fmt.Printf("%s\t%s\n", res.Status, res.Message)
}
