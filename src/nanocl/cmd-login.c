/* nanocl login REGISTRY / nanocl logout REGISTRY */
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static const char login_usage[] =
  "Usage: nanocl login REGISTRY [-u USER] [-p PASSWORD | --password-stdin]\n"
  "\n"
  "Check credentials with a registry and store them in nanocld's config dir\n"
  "(auth.json, mode 0600) for later pulls. Without -p, the password is read from\n"
  "stdin (--password-stdin) or asked for on the terminal.\n";

struct login_opts {
  const char *user, *password;
  bool stdin_password;
};

static int login_opt(int c, const char *arg, void *ctx)
{
  struct login_opts *o = ctx;
  if (c == 'u')
    o->user = arg;
  else if (c == 'p')
    o->password = arg;
  else
    o->stdin_password = true;
  return 0;
}

/* One line from `f`, without its newline; echo off when it is a terminal. */
static int read_secret(FILE *f, const char *prompt, char *out, size_t size)
{
  struct termios old, quiet;
  bool tty = isatty(fileno(f)) && tcgetattr(fileno(f), &old) == 0;
  if (prompt) {
    fputs(prompt, stderr);
    fflush(stderr);
  }
  if (tty) {
    quiet = old;
    quiet.c_lflag &= (tcflag_t)~ECHO;
    tcsetattr(fileno(f), TCSAFLUSH, &quiet);
  }
  char *r = fgets(out, (int)size, f);
  if (tty) {
    tcsetattr(fileno(f), TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (!r)
    return -1;
  out[strcspn(out, "\r\n")] = '\0';
  return 0;
}

static int do_login(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "username", required_argument, NULL, 'u' },
                                        { "password", required_argument, NULL, 'p' },
                                        { "password-stdin", no_argument, NULL, 'S' },
                                        { NULL, 0, NULL, 0 } };
  struct login_opts o = { 0 };
  bool done;
  int r = cli_parse(cli, "login", argc, argv, "u:p:", opts, login_usage, login_opt, &o, &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("login", argc - optind ? "expected one REGISTRY" : "missing REGISTRY");
  if (o.password && o.stdin_password)
    return cli_usage_error("login", "give --password or --password-stdin, not both");

  char user[256], password[256];
  if (o.user) {
    snprintf(user, sizeof user, "%s", o.user);
  } else if (o.stdin_password || read_secret(stdin, "Username: ", user, sizeof user) < 0) {
    /* read_secret echoes off; a user name may be shown, but this is simpler and safe. */
    return cli_usage_error("login", "missing --username");
  }
  if (o.password)
    snprintf(password, sizeof password, "%s", o.password);
  else if (read_secret(stdin, o.stdin_password ? NULL : "Password: ", password, sizeof password) < 0)
    return cli_usage_error("login", "no password given");

  struct nc_err err = NC_ERR_INIT;
  json_t *body = json_pack("{s:s, s:s, s:s}", "registry", argv[optind], "username", user,
                           "password", password), *res = NULL;
  memset(password, 0, sizeof password);
  r = cli_call(cli, "POST", "/v1/login", body, &res, &err);
  json_decref(body);
  if (r < 0)
    return cli_fail(&err);
  printf("%s\n", json_string_value(json_object_get(res, "status")) ?: "Login Succeeded");
  json_decref(res);
  return CLI_OK;
}

static const char logout_usage[] = "Usage: nanocl logout REGISTRY\n"
                                   "\n"
                                   "Remove the credentials stored for a registry.\n";

static int do_logout(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "logout", argc, argv, NULL, NULL, logout_usage, NULL, NULL, &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("logout", argc - optind ? "expected one REGISTRY" : "missing REGISTRY");
  struct nc_err err = NC_ERR_INIT;
  json_t *body = json_pack("{s:s}", "registry", argv[optind]), *res = NULL;
  r = cli_call(cli, "POST", "/v1/logout", body, &res, &err);
  json_decref(body);
  if (r < 0)
    return cli_fail(&err);
  printf("Removed login credentials for %s\n", argv[optind]);
  json_decref(res);
  return CLI_OK;
}

int cmd_login(struct cli *cli, int argc, char **argv)
{
  return do_login(cli, argc, argv);
}

int cmd_logout(struct cli *cli, int argc, char **argv)
{
  return do_logout(cli, argc, argv);
}
