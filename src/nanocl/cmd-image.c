/* nanocl container-image create|pull|ls|inspect|history|tag|import|rm */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "image/ref.h"
#include "output.h"
#include "progress.h"
#include "tar-writer.h"

/* Image names and ids go into paths as they are ('/' and ':' included: the
 * API matches them greedily); only characters that would end the path are refused. */
static int image_path(const char *ref, const char *suffix, char *out, size_t size,
                      struct nc_err *err)
{
  if (!*ref || strpbrk(ref, "?# \t\n%"))
    return nc_err_set(err, NC_ERR_INVALID, "invalid image reference '%.200s'", ref);
  if (snprintf(out, size, "/v1/images/%s%s", ref, suffix) >= (int)size)
    return nc_err_set(err, NC_ERR_INVALID, "image reference too long");
  return 0;
}

static int on_progress(void *ctx, json_t *line)
{
  progress_event(ctx, line);
  return 0;
}

/* Shows a pull or import stream; exit status from its last line. */
static int finish_stream(struct cli *cli, struct progress *p, const char *asked, int rc,
                         struct nc_err *err, bool show)
{
  const char *error;
  json_t *image = progress_result(p, &error);
  int status = CLI_OK;
  if (rc < 0) {
    status = cli_fail(err);
  } else if (error || !image) {
    fprintf(stderr, "nanocl: %s\n", error ? error : "the stream ended without a result");
    status = CLI_ERROR;
  } else if (!show) {
  } else if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, image, cli->output);
  } else {
    /* The name asked for, as nanocld normalised it; else the image's first. */
    json_t *names = json_object_get(image, "names");
    const char *shown = json_string_value(json_array_get(names, 0));
    size_t i;
    json_t *n;
    json_array_foreach (names, i, n) {
      const char *s = json_string_value(n);
      size_t sl = strlen(s), al = asked ? strlen(asked) : 0;
      if (asked && sl >= al && !strcmp(s + sl - al, asked))
        shown = s;
    }
    printf("Image: %s\n", shown ? shown : "");
    printf("ID:    %s\n", json_string_value(json_object_get(image, "id")) ?: "");
  }
  progress_free(p);
  return status;
}

static const char pull_usage[] =
  "Usage: nanocl container-image create NAME[:TAG|@DIGEST] [--platform OS/ARCH[/VARIANT]]\n"
  "       (also: nanocl container-image pull …)\n"
  "\n"
  "Pull an image from its registry into nanocld's store. Names without a registry\n"
  "use nanocld's default registry (docker.io); layers already there are not fetched.\n"
  "\n"
  "Options:\n"
  "      --platform P   the platform to pick from a multi-platform image (default: the host's)\n";

static int pull_opt(int c, const char *arg, void *ctx)
{
  *(const char **)ctx = arg;
  return 0;
}

static int img_pull(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "platform", required_argument, NULL, 'P' },
                                        { NULL, 0, NULL, 0 } };
  const char *platform = NULL;
  bool done;
  int r = cli_parse(cli, "container-image create", argc, argv, "", opts, pull_usage, pull_opt,
                    &platform, &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error("container-image create", argc - optind ? "expected one NAME" : "missing NAME");

  return cli_image_pull(cli, argv[optind], platform, stdout, true);
}

int cli_image_pull(struct cli *cli, const char *ref, const char *platform, FILE *progress_out,
                   bool show)
{
  json_t *body = json_pack("{s:s}", "ref", ref);
  if (platform)
    json_object_set_new(body, "platform", json_string(platform));
  struct progress *p = progress_new(isatty(fileno(progress_out)) &&
                                    (progress_out != stdout || cli->output == CLI_OUTPUT_TABLE));
  progress_set_output(p, progress_out);
  struct nc_err err = NC_ERR_INIT;
  if (!cli->client && nc_client_new(cli->host, &cli->client, &err) < 0) {
    json_decref(body);
    progress_free(p);
    return cli_fail(&err);
  }
  int r = nc_client_stream(cli->client, "POST", "/v1/images/pull", body, on_progress, p, &err);
  json_decref(body);
  return finish_stream(cli, p, ref, r, &err, show);
}

int cli_image_exists(struct cli *cli, const char *ref, struct nc_err *err)
{
  char path[1024];
  if (image_path(ref, "", path, sizeof path, err) < 0)
    return -1;
  int r = cli_call(cli, "GET", path, NULL, NULL, err);
  if (r >= 0)
    return 1;
  if (err->kind == NC_ERR_NOT_FOUND) {
    *err = (struct nc_err)NC_ERR_INIT;
    return 0;
  }
  return -1;
}

static const char import_usage[] =
  "Usage: nanocl container-image import FILE|DIR|- [NAME[:TAG]]\n"
  "\n"
  "Load an image: a `docker save` / docker-archive file, an OCI image layout archive,\n"
  "an OCI image layout directory, or an archive on stdin (-). NAME names the image\n"
  "when the archive does not (it wins when it does).\n";

struct tar_job {
  const char *dir;
  int fd;
  int err; /* errno of a failed write, 0 when it went well */
};

static void *tar_thread(void *arg)
{
  struct tar_job *j = arg;
  j->err = tar_write_dir(j->dir, j->fd) < 0 ? errno : 0;
  return NULL;
}

static int img_import(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "container-image import", argc, argv, NULL, NULL, import_usage, NULL,
                    NULL, &done);
  if (done)
    return r;
  if (argc - optind < 1 || argc - optind > 2)
    return cli_usage_error("container-image import", "expected FILE and an optional NAME");
  const char *file = argv[optind];
  int fd = strcmp(file, "-") ? open(file, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
  if (fd < 0) {
    fprintf(stderr, "nanocl: cannot open '%s': %m\n", file);
    return CLI_ERROR;
  }
  /* An OCI layout directory is sent as a tar of itself, written by a thread
   * into a pipe that the upload reads. */
  struct stat st;
  struct tar_job tj = { .dir = file, .fd = -1 };
  pthread_t tar_th;
  bool tarring = false;
  if (fd != STDIN_FILENO && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    int pipefd[2];
    close(fd);
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
      fprintf(stderr, "nanocl: cannot create a pipe: %m\n");
      return CLI_ERROR;
    }
    tj.fd = pipefd[1];
    fd = pipefd[0];
    if (pthread_create(&tar_th, NULL, tar_thread, &tj) != 0) {
      close(pipefd[0]);
      close(pipefd[1]);
      fprintf(stderr, "nanocl: cannot start a thread\n");
      return CLI_ERROR;
    }
    tarring = true;
  }
  char path[1024] = "/v1/images/import";
  struct nc_err err = NC_ERR_INIT;
  if (argc - optind == 2) {
    struct image_ref ref;
    if (image_ref_parse(argv[optind + 1], NULL, &ref, &err) < 0)
      return cli_fail(&err);
    snprintf(path, sizeof path, "/v1/images/import?ref=%s", argv[optind + 1]);
  }
  struct progress *p = progress_new(isatty(STDOUT_FILENO) && cli->output == CLI_OUTPUT_TABLE);
  if (!cli->client && nc_client_new(cli->host, &cli->client, &err) < 0) {
    progress_free(p);
    return cli_fail(&err);
  }
  r = nc_client_upload(cli->client, path, fd, "application/x-tar", on_progress, p, &err);
  if (fd != STDIN_FILENO)
    close(fd); /* a tar writer still writing sees EPIPE and ends */
  if (tarring) {
    pthread_join(tar_th, NULL);
    if (tj.err && tj.err != EPIPE && r >= 0) {
      progress_free(p);
      fprintf(stderr, "nanocl: cannot read the layout '%s': %s\n", file, strerror(tj.err));
      return CLI_ERROR;
    }
  }
  return finish_stream(cli, p, argc - optind == 2 ? argv[optind + 1] : NULL, r, &err, true);
}

static const char ls_usage[] = "Usage: nanocl container-image ls [-q] [-o table|json|yaml]\n"
                               "\n"
                               "List images: one line per name (an image without a name shows "
                               "<none>).\n"
                               "\n"
                               "Options:\n"
                               "  -q, --quiet   print image ids only\n";

static int flag_opt(int c, const char *arg, void *ctx)
{
  *(bool *)ctx = true;
  return 0;
}

static void add_rows(struct table *t, json_t *img)
{
  const char *id = json_string_value(json_object_get(img, "id")) ?: "";
  char shortid[13], age[64], size[32];
  snprintf(shortid, sizeof shortid, "%.12s", strncmp(id, "sha256:", 7) ? id : id + 7);
  out_age(json_string_value(json_object_get(img, "created")), age, sizeof age);
  out_size(json_integer_value(json_object_get(img, "size")), size, sizeof size);
  json_t *names = json_object_get(img, "names");
  if (json_array_size(names) == 0) {
    const char *row[] = { "<none>", "<none>", shortid, age, size };
    table_add(t, row);
  }
  size_t i;
  json_t *n;
  json_array_foreach (names, i, n) {
    char repo[512];
    snprintf(repo, sizeof repo, "%s", json_string_value(n));
    const char *tag = "<none>";
    char *at = strchr(repo, '@');
    char *colon = strrchr(repo, ':');
    if (at) {
      *at = '\0';
    } else if (colon && !strchr(colon, '/')) {
      *colon = '\0';
      tag = colon + 1;
    }
    const char *row[] = { image_ref_familiar(repo), tag, shortid, age, size };
    table_add(t, row);
  }
}

static int img_ls(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "quiet", no_argument, NULL, 'q' }, { NULL, 0, NULL, 0 } };
  bool quiet = false, done;
  int r = cli_parse(cli, "container-image ls", argc, argv, "q", opts, ls_usage, flag_opt, &quiet,
                    &done);
  if (done)
    return r;
  if (optind < argc)
    return cli_usage_error("container-image ls", "unexpected argument '%s'", argv[optind]);
  struct nc_err err = NC_ERR_INIT;
  json_t *list = NULL;
  if (cli_call(cli, "GET", "/v1/images", NULL, &list, &err) < 0)
    return cli_fail(&err);
  size_t i;
  json_t *img;
  if (quiet) {
    json_array_foreach (list, i, img)
      printf("%s\n", json_string_value(json_object_get(img, "id")));
  } else if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, list, cli->output);
  } else {
    static const char *const headers[] = { "REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE" };
    struct table *t = table_new(5, headers);
    json_array_foreach (list, i, img)
      add_rows(t, img);
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(list);
  return CLI_OK;
}

static int one_ref(struct cli *cli, int argc, char **argv, const char *cmd, const char *usage,
                   const char **ref)
{
  bool done;
  int r = cli_parse(cli, cmd, argc, argv, NULL, NULL, usage, NULL, NULL, &done);
  if (done)
    return r;
  if (argc - optind != 1)
    return cli_usage_error(cmd, argc - optind ? "expected one IMAGE" : "missing IMAGE");
  *ref = argv[optind];
  return -1;
}

static const char inspect_usage[] = "Usage: nanocl container-image inspect IMAGE [-o yaml|json]\n"
                                    "\n"
                                    "Show an image (by name, id or id prefix) as YAML or JSON.\n";

static int img_inspect(struct cli *cli, int argc, char **argv)
{
  const char *ref;
  int r = one_ref(cli, argc, argv, "container-image inspect", inspect_usage, &ref);
  if (r >= 0)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[1200];
  json_t *img = NULL;
  if (image_path(ref, "", path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &img, &err) < 0)
    return cli_fail(&err);
  out_document(cli, img, CLI_OUTPUT_YAML);
  json_decref(img);
  return CLI_OK;
}

static const char history_usage[] = "Usage: nanocl container-image history IMAGE [-o …]\n"
                                    "\n"
                                    "Show how an image was built, newest step first.\n";

static int img_history(struct cli *cli, int argc, char **argv)
{
  const char *ref;
  int r = one_ref(cli, argc, argv, "container-image history", history_usage, &ref);
  if (r >= 0)
    return r;
  struct nc_err err = NC_ERR_INIT;
  char path[1200];
  json_t *hist = NULL;
  if (image_path(ref, "/history", path, sizeof path, &err) < 0 ||
      cli_call(cli, "GET", path, NULL, &hist, &err) < 0)
    return cli_fail(&err);
  if (cli->output != CLI_OUTPUT_TABLE) {
    out_document(cli, hist, cli->output);
  } else {
    static const char *const headers[] = { "CREATED", "CREATED BY", "SIZE", "COMMENT" };
    struct table *t = table_new(4, headers);
    size_t i;
    json_t *h;
    json_array_foreach (hist, i, h) {
      char age[64], size[32], by[61];
      out_age(json_string_value(json_object_get(h, "created")), age, sizeof age);
      out_size(json_integer_value(json_object_get(h, "size")), size, sizeof size);
      snprintf(by, sizeof by, "%.60s", json_string_value(json_object_get(h, "created_by")) ?: "");
      const char *row[] = { age, by, size, json_string_value(json_object_get(h, "comment")) };
      table_add(t, row);
    }
    table_print(t, stdout);
    table_free(t);
  }
  json_decref(hist);
  return CLI_OK;
}

static const char tag_usage[] = "Usage: nanocl container-image tag IMAGE NAME[:TAG]\n"
                                "\n"
                                "Give an image another name (moved from another image that had "
                                "it).\n";

static int img_tag(struct cli *cli, int argc, char **argv)
{
  bool done;
  int r = cli_parse(cli, "container-image tag", argc, argv, NULL, NULL, tag_usage, NULL, NULL,
                    &done);
  if (done)
    return r;
  if (argc - optind != 2)
    return cli_usage_error("container-image tag", "expected IMAGE and NAME");
  struct nc_err err = NC_ERR_INIT;
  char path[1200];
  json_t *body = json_pack("{s:s}", "name", argv[optind + 1]), *img = NULL;
  if (image_path(argv[optind], "/tag", path, sizeof path, &err) < 0 ||
      cli_call(cli, "POST", path, body, &img, &err) < 0) {
    json_decref(body);
    return cli_fail(&err);
  }
  json_decref(body);
  if (cli->output != CLI_OUTPUT_TABLE)
    out_document(cli, img, cli->output);
  json_decref(img);
  return CLI_OK;
}

static const char rm_usage[] = "Usage: nanocl container-image rm [-f] IMAGE...\n"
                               "\n"
                               "Remove image names; an image goes with its last name (or by id).\n"
                               "What no image uses any more is freed from disk.\n"
                               "\n"
                               "Options:\n"
                               "  -f, --force   remove an image by id even with several names\n";

static int img_rm(struct cli *cli, int argc, char **argv)
{
  static const struct option opts[] = { { "force", no_argument, NULL, 'f' }, { NULL, 0, NULL, 0 } };
  bool force = false, done;
  int r = cli_parse(cli, "container-image rm", argc, argv, "f", opts, rm_usage, flag_opt, &force,
                    &done);
  if (done)
    return r;
  if (optind == argc)
    return cli_usage_error("container-image rm", "missing IMAGE");
  for (int i = optind; i < argc; i++) {
    struct nc_err err = NC_ERR_INIT;
    char path[1200];
    json_t *res = NULL;
    if (image_path(argv[i], force ? "?force=true" : "", path, sizeof path, &err) < 0 ||
        cli_call(cli, "DELETE", path, NULL, &res, &err) < 0)
      return cli_fail(&err);
    size_t k;
    json_t *v;
    json_array_foreach (json_object_get(res, "untagged"), k, v)
      printf("Untagged: %s\n", json_string_value(v));
    json_array_foreach (json_object_get(res, "deleted"), k, v)
      printf("Deleted: %s\n", json_string_value(v));
    json_decref(res);
  }
  return CLI_OK;
}

static const struct cli_cmd verbs[] = {
  { "create", "pull", img_pull, "Pull an image from a registry" },
  { "ls", "list", img_ls, "List images" },
  { "inspect", NULL, img_inspect, "Show an image" },
  { "history", NULL, img_history, "Show the steps an image was built with" },
  { "tag", NULL, img_tag, "Give an image another name" },
  { "import", "load", img_import, "Load an image archive (docker save, OCI)" },
  { "rm", "remove", img_rm, "Remove images" },
  { NULL, NULL, NULL, NULL },
};

int cmd_image(struct cli *cli, int argc, char **argv)
{
  return cli_run_group(cli, "container-image",
                       "Manage container images: pulled from any OCI/Docker registry or loaded "
                       "from archives,\nstored once per layer and shared by every image.",
                       verbs, argc, argv);
}
