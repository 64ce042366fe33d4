#include "model/name.h"
#include "tap.h"

int main(void)
{
  static const char *const good[] = {
    "global", "a", "0", "dev-1", "a1b2", "x-y-z",
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0", /* 63 */
  };
  static const char *const bad[] = {
    "", "-a", "a-", "A", "Dev", "a_b", "a.b", "a/b", "a b", "é", "a\n",
    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz01", /* 64 */
  };
  for (size_t i = 0; i < sizeof good / sizeof *good; i++)
    ok(nc_name_valid(good[i]), "'%s' is a valid name", good[i]);
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    ok(!nc_name_valid(bad[i]), "'%s' is refused", bad[i]);

  struct nc_err err = NC_ERR_INIT;
  is_int(nc_name_check("namespace", "Dev", &err), -1, "check fails on 'Dev'");
  is_int(err.kind, NC_ERR_INVALID, "with kind invalid");
  ok(strstr(err.msg, "namespace") && strstr(err.msg, "'Dev'"), "message names what and the name: %s",
     err.msg);
  is_int(nc_name_check("namespace", "dev", &err), 0, "check passes on 'dev'");

  char huge[4096];
  memset(huge, 'a', sizeof huge - 1);
  huge[sizeof huge - 1] = '\0';
  nc_name_check("cluster", huge, &err);
  ok(strlen(err.msg) < 300, "a huge name is quoted only in part (%zu bytes)", strlen(err.msg));
  return tap_done();
}
