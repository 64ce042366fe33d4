#include <stdlib.h>

#include "image/manifest.h"
#include "tap.h"

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static int parse(const char *s, const char *ct, struct manifest *m, struct nc_err *err)
{
  return manifest_parse(s, strlen(s), ct, m, err);
}

int main(void)
{
  struct nc_err err = NC_ERR_INIT;
  struct manifest m;
  struct platform p;

  /* OCI index with two platforms. */
  const char *index = "{\"schemaVersion\":2,\"mediaType\":\"" MT_OCI_INDEX "\",\"manifests\":["
                      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D("a") "\",\"size\":10,"
                      "\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
                      "{\"mediaType\":\"" MT_OCI_MANIFEST "\",\"digest\":\"" D("b") "\",\"size\":11,"
                      "\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}}]}";
  is_int(parse(index, NULL, &m, &err), 0, "OCI index parses");
  is_int(m.kind, MANIFEST_INDEX, "as an index");
  is_int(m.nitems, 2, "with two manifests");
  const struct descriptor *d = NULL;
  platform_parse("linux/arm64", &p, &err);
  is_int(manifest_select(&m, &p, &d, &err), 0, "linux/arm64 found");
  is_str(d ? d->digest : NULL, D("b"), "the arm64 entry");
  platform_parse("linux/amd64", &p, &err);
  manifest_select(&m, &p, &d, &err);
  is_str(d->digest, D("a"), "the amd64 entry");
  platform_parse("linux/s390x", &p, &err);
  is_int(manifest_select(&m, &p, &d, &err), -1, "linux/s390x is not there");
  ok(strstr(err.msg, "linux/amd64") && strstr(err.msg, "linux/arm64/v8"),
     "the message lists what there is: %s", err.msg);
  manifest_free(&m);

  /* Docker schema 2 manifest, media type from the Content-Type only. */
  const char *docker = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" MT_DOCKER_CONFIG
                       "\",\"digest\":\"" D("c") "\",\"size\":5},\"layers\":["
                       "{\"mediaType\":\"" MT_DOCKER_LAYER "\",\"digest\":\"" D("d") "\",\"size\":7}]}";
  is_int(parse(docker, MT_DOCKER_MANIFEST, &m, &err), 0, "Docker schema 2 parses");
  is_int(m.kind, MANIFEST_IMAGE, "as an image manifest");
  is_str(m.config.digest, D("c"), "config digest");
  is_int(m.nitems, 1, "one layer");
  is_int(m.items[0].size, 7, "layer size");
  manifest_free(&m);

  /* Refusals. */
  is_int(parse("{\"schemaVersion\":1,\"fsLayers\":[]}", NULL, &m, &err), -1, "schema 1 refused");
  ok(strstr(err.msg, "schema 1") != NULL, "by name: %s", err.msg);
  is_int(parse("{\"schemaVersion\":2,\"fsLayers\":[]}",
               "application/vnd.docker.distribution.manifest.v1+prettyjws", &m, &err), -1,
         "schema 1 refused by its media type");
  is_int(parse("{\"schemaVersion\":2,\"mediaType\":\"text/html\"}", NULL, &m, &err), -1,
         "unknown type refused");
  is_int(parse("{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:xyz\",\"size\":1},\"layers\":[]}",
               NULL, &m, &err), -1, "bad digest refused");
  ok(strstr(err.msg, "sha256") != NULL, "message: %s", err.msg);
  is_int(parse("{\"schemaVersion\":2,\"config\":{\"digest\":\"" D("c") "\",\"size\":1},"
               "\"layers\":[{\"mediaType\":\"text/plain\",\"digest\":\"" D("d") "\",\"size\":1}]}",
               NULL, &m, &err), -1, "unknown layer type refused");

  /* Platforms. */
  is_int(platform_parse("linux/arm/v7", &p, &err), 0, "linux/arm/v7 parses");
  is_str(p.variant, "v7", "variant");
  is_int(platform_parse("linux", &p, &err), -1, "an OS alone is refused");
  is_int(platform_parse("linux/AMD64", &p, &err), -1, "upper case refused");
  is_int(platform_parse(NULL, &p, &err), 0, "default platform");
  is_str(p.os, "linux", "is linux");

  /* Config and chain ids. */
  const char *cfg = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2026-01-02T03:04:05Z\","
                    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D("a") "\",\"" D("b") "\",\"" D("c") "\"]}}";
  struct image_config c;
  is_int(image_config_parse(cfg, strlen(cfg), &c, &err), 0, "config parses");
  is_int(c.ndiff_ids, 3, "three diff_ids");
  char chain[3][NC_DIGEST_SIZE];
  image_chain_ids(c.diff_ids, c.ndiff_ids, chain);
  is_str(chain[0], D("a"), "chain id 0 is diff_id 0");
  is_str(chain[1], "sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c",
         "chain id 1");
  is_str(chain[2], "sha256:c1377126441fb2f5ec2c21ae2a60255331d639e830f0ee1b40a36e52d4c40588",
         "chain id 2");
  image_config_free(&c);
  is_int(image_config_parse("{\"os\":\"linux\"}", 15, &c, &err), -1, "config without diff_ids");

  /* A built manifest parses back. */
  struct descriptor conf = { .digest = D("c"), .size = 5 };
  struct descriptor layer = { .media_type = MT_OCI_LAYER, .digest = D("d"), .size = 7 };
  char *built = manifest_build(&conf, &layer, 1);
  is_int(parse(built, NULL, &m, &err), 0, "a built manifest parses");
  is_str(m.items[0].digest, D("d"), "with its layer");
  manifest_free(&m);
  free(built);
  return tap_done();
}
