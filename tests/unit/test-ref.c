#include "image/ref.h"
#include "tap.h"

static void good(const char *in, const char *def, const char *registry, const char *repo,
                 const char *tag, const char *name)
{
  struct image_ref r;
  struct nc_err err = NC_ERR_INIT;
  int rc = image_ref_parse(in, def, &r, &err);
  is_int(rc, 0, "'%s' parses%s%s", in, rc ? ": " : "", rc ? err.msg : "");
  if (rc)
    return;
  is_str(r.registry, registry, "'%s' registry", in);
  is_str(r.repository, repo, "'%s' repository", in);
  is_str(r.tag, tag, "'%s' tag", in);
  char full[600];
  image_ref_name(&r, full, sizeof full);
  is_str(full, name, "'%s' normalised", in);
}

static void bad(const char *in, const char *needle)
{
  struct image_ref r;
  struct nc_err err = NC_ERR_INIT;
  is_int(image_ref_parse(in, NULL, &r, &err), -1, "'%s' refused", in);
  is_int(err.kind, NC_ERR_INVALID, "as invalid");
  ok(strstr(err.msg, needle) != NULL, "message mentions '%s': %s", needle, err.msg);
}

int main(void)
{
  static const char dg[] = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  char pinned[200], pinned_name[200];

  good("busybox", NULL, "docker.io", "library/busybox", "latest",
       "docker.io/library/busybox:latest");
  good("busybox:1.36", NULL, "docker.io", "library/busybox", "1.36",
       "docker.io/library/busybox:1.36");
  good("nginx/unit", NULL, "docker.io", "nginx/unit", "latest", "docker.io/nginx/unit:latest");
  good("127.0.0.1:5000/a/b:1.0", NULL, "127.0.0.1:5000", "a/b", "1.0",
       "127.0.0.1:5000/a/b:1.0");
  good("localhost/x", NULL, "localhost", "x", "latest", "localhost/x:latest");
  good("ghcr.io/o/r:v1_2.3-x", NULL, "ghcr.io", "o/r", "v1_2.3-x", "ghcr.io/o/r:v1_2.3-x");
  good("busybox", "registry.local:5000", "registry.local:5000", "busybox", "latest",
       "registry.local:5000/busybox:latest");
  good("a__b/c-d--e/f.g_h", NULL, "docker.io", "a__b/c-d--e/f.g_h", "latest",
       "docker.io/a__b/c-d--e/f.g_h:latest");
  /* Docker: an upper-case first component can only be a host name. */
  good("UPPER/case", NULL, "UPPER", "case", "latest", "UPPER/case:latest");
  good("[::1]:5000/x:1", NULL, "[::1]:5000", "x", "1", "[::1]:5000/x:1");

  snprintf(pinned, sizeof pinned, "127.0.0.1:5000/a@%s", dg);
  snprintf(pinned_name, sizeof pinned_name, "127.0.0.1:5000/a@%s", dg);
  good(pinned, NULL, "127.0.0.1:5000", "a", "", pinned_name);
  snprintf(pinned, sizeof pinned, "busybox:1@%s", dg);
  good(pinned, NULL, "docker.io", "library/busybox", "1", "docker.io/library/busybox:1");

  bad("", "empty");
  bad("Upper", "repository");
  bad("a:b:c", "repository");
  bad("host:99999/x", "port");
  bad("x:", "tag");
  bad("x:.bad", "tag");
  bad("a//b", "repository");
  bad("-a", "repository");
  bad("a-", "repository");
  bad("a..b", "repository");
  bad("busybox@sha256:xyz", "digest");
  bad("busybox@md5:0123", "digest");

  ok(!strcmp(image_ref_familiar("docker.io/library/busybox"), "busybox"), "familiar official");
  ok(!strcmp(image_ref_familiar("docker.io/nginx/unit"), "nginx/unit"), "familiar hub user");
  ok(!strcmp(image_ref_familiar("127.0.0.1:5000/a"), "127.0.0.1:5000/a"), "familiar other");
  return tap_done();
}
