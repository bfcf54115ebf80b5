/* The floor of any proxy process, in C: ``proxy_overhead.py --native-floor``.
 *
 * Starts argv[1:] (ty server) on two pipes and copies bytes editor <-> ty with
 * splice(2) in two threads, parsing nothing: what ``proxy_overhead.relay`` does in
 * Python, without an interpreter. Benchmark-only; never part of punie-lsp.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

struct pump { int source, target; };

static void *pump(void *arg) {
  struct pump *p = arg;
  while (splice(p->source, NULL, p->target, NULL, 1 << 20, 0) > 0) {
  }
  return NULL;
}

int main(int argc, char **argv) {
  int to_child[2], from_child[2];
  if (argc < 2 || pipe(to_child) || pipe(from_child)) return 2;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(to_child[0], 0);
    dup2(from_child[1], 1);
    close(to_child[1]);
    close(from_child[0]);
    execvp(argv[1], argv + 1);
    _exit(127);
  }
  close(to_child[0]);
  close(from_child[1]);
  struct pump up = {0, to_child[1]}, down = {from_child[0], 1};
  pthread_t thread;
  pthread_create(&thread, NULL, pump, &up);
  pump(&down);
  int status;
  waitpid(pid, &status, 0);
  return 0;
}
