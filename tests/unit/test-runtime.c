/* What nanocld adds around the OCI runtime's executable: the sealed in-memory copy it
 * runs (runtime/sealed.h: the seals runc and crun look for, remade when the file
 * changes, none for a script) and one wording for a process that cannot be started
 * whichever runtime said why (runtime/failure.h). */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/failure.h"
#include "runtime/sealed.h"
#include "tap.h"

static char dir[] = "/tmp/nanocl-test-runtime-XXXXXX";

static void copy_file(const char *from, const char *to)
{
  char cmd[600];
  snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 755 '%s'", from, to, to);
  if (system(cmd) != 0) {
    printf("# cannot copy %s\n", from);
    exit(99);
  }
}

/* Runs the copy behind fd as `true`: its exit status, or -1. */
static int run_fd(int fd)
{
  pid_t pid = fork();
  if (pid == 0) {
    static char name[] = "true";
    char *argv[] = { name, NULL };
    char *envp[] = { NULL };
    fexecve(fd, argv, envp);
    _exit(127);
  }
  int st;
  if (pid < 0 || waitpid(pid, &st, 0) < 0)
    return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_sealed(void)
{
  char bin[300], script[300];
  snprintf(bin, sizeof bin, "%s/true", dir);
  snprintf(script, sizeof script, "%s/script", dir);
  copy_file("/bin/true", bin);
  struct runtime_sealed s;
  runtime_sealed_init(&s);

  int a = runtime_sealed_get(&s, bin);
  ok(a >= 0, "an ELF executable gets a sealed copy");
  is_int(fcntl(a, F_GET_SEALS), F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE,
         "sealed exactly as runc and crun expect of a copy they may skip");
  ok(fcntl(a, F_GETFD) & FD_CLOEXEC, "the caller's descriptor is close-on-exec");
  ok(write(a, "x", 1) < 0, "the copy cannot be written");
  is_int(run_fd(a), 0, "the copy runs through fexecve");
  struct stat sa, sb;
  int b = runtime_sealed_get(&s, bin);
  ok(b >= 0 && b != a && fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_ino == sb.st_ino,
     "the next call shares the same copy");
  close(b);

  /* An upgrade: the file is replaced (another inode); the next start gets a new copy. */
  char tmp[320];
  snprintf(tmp, sizeof tmp, "%s.new", bin);
  copy_file("/bin/true", tmp);
  rename(tmp, bin);
  b = runtime_sealed_get(&s, bin);
  ok(b >= 0 && fstat(b, &sb) == 0 && sb.st_ino != sa.st_ino, "a replaced file is copied again");
  is_int(run_fd(b), 0, "and the new copy runs");
  close(b);
  close(a);

  FILE *f = fopen(script, "w");
  fputs("#!/bin/sh\nexit 0\n", f);
  fclose(f);
  chmod(script, 0755);
  is_int(runtime_sealed_get(&s, script), -1, "a script is run from its path: no copy");
  char missing[320];
  snprintf(missing, sizeof missing, "%s/nope", dir);
  is_int(runtime_sealed_get(&s, missing), -1, "a missing file: no copy, the path says why");
  runtime_sealed_destroy(&s);
}

static void test_failure(void)
{
  char out[512];
  static const struct {
    const char *msg, *cmd;
    int code;
    const char *want;
  } cases[] = {
    /* runc */
    { "exec failed: unable to start container process: exec: \"nope\": executable file not "
      "found in $PATH", "nope", 127, "exec: \"nope\": executable file not found in $PATH" },
    { "exec failed: unable to start container process: exec: \"/etc/passwd\": permission denied",
      "/etc/passwd", 126, "exec: \"/etc/passwd\": permission denied" },
    /* crun */
    { "executable file `nope` not found in $PATH: No such file or directory", "nope", 127,
      "exec: \"nope\": executable file not found in $PATH" },
    { "executable file `/nope` not found: No such file or directory", "/nope", 127,
      "exec: \"/nope\": no such file or directory" },
    { "open executable: Permission denied", "/etc/passwd", 126,
      "exec: \"/etc/passwd\": permission denied" },
    { "open executable: Operation not permitted", "/tmp", 126, "exec: \"/tmp\": permission denied" },
    /* about something else: the runtime's words stay */
    { "chdir `/nonexist`: No such file or directory", "true", 127,
      "chdir `/nonexist`: No such file or directory" },
    { "mount `proc` to `/proc`: Device or resource busy", "sh", 0,
      "mount `proc` to `/proc`: Device or resource busy" },
    { "open executable: Permission denied", NULL, 126, "open executable: Permission denied" },
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    int code = runtime_exec_failure(cases[i].msg, cases[i].cmd, out, sizeof out);
    is_int(code, cases[i].code, "code of '%s'", cases[i].msg);
    is_str(out, cases[i].want, "words for '%s'", cases[i].msg);
  }
}

int main(void)
{
  if (!mkdtemp(dir))
    return 99;
  test_sealed();
  test_failure();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0)
    printf("# could not remove %s\n", dir);
  return tap_done();
}
