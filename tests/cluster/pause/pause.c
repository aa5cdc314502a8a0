/*
 * The sandbox ("pause") process of the Proctor test cluster: it holds a pod's namespaces open,
 * reaps the zombies that end up parented to it, and exits cleanly when asked to stop. Built
 * statically by tests/cluster/up.sh into the locally imported pause image, so that no image is
 * ever pulled.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void stop(int sig) {
    (void)sig;
    _exit(0);
}

static void reap(int sig) {
    (void)sig;
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

int main(int argc, char **argv) {
    struct sigaction sa;

    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        puts("proctor-pause 1");
        return 0;
    }
    if (getpid() != 1) {
        fputs("proctor-pause: warning: not running as pid 1\n", stderr);
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    sa.sa_handler = reap;
    sa.sa_flags = SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, NULL);

    for (;;) {
        pause();
    }
}
