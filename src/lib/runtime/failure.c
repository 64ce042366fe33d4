#include "runtime/failure.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* runc: `exec: "nope": executable file not found in $PATH`, `exec: "/etc/passwd":
 * permission denied`. crun: "executable file `nope` not found in $PATH: No such file or
 * directory", "open executable: Permission denied", "open executable: Operation not
 * permitted" (a directory). Messages about anything else (a working directory that
 * cannot be entered: "chdir to `/x`: No such file or directory") keep their words. */
int runtime_exec_failure(const char *msg, const char *cmd, char *out, size_t size)
{
  bool about_exec = strcasestr(msg, "executable") || strstr(msg, "exec: \"");
  int code = 0;
  if (strcasestr(msg, "not found") || strcasestr(msg, "no such file"))
    code = 127;
  else if (strcasestr(msg, "permission denied") || strcasestr(msg, "operation not permitted") ||
           strcasestr(msg, "is a directory"))
    code = 126;
  if (code && about_exec && cmd && *cmd) {
    if (code == 127 && !strchr(cmd, '/'))
      snprintf(out, size, "exec: \"%.200s\": executable file not found in $PATH", cmd);
    else
      snprintf(out, size, "exec: \"%.200s\": %s", cmd,
               code == 127 ? "no such file or directory" : "permission denied");
  } else if (out != msg) {
    snprintf(out, size, "%s", msg);
  }
  return code;
}
