/* Unversioned system routes: /_ping and /version. */
#include <sys/utsname.h>

#include "api/api-internal.h"
#include "config.h"
#include "version.h"

int api_ping(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  resp->status = 200;
  resp->text = "OK";
  return 0;
}

int api_version(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  struct utsname u;
  const char *arch = uname(&u) == 0 ? u.machine : "unknown";
  json_t *v = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:i}}", "version",
                        NC_VERSION, "api_version", NC_API_VERSION, "git_commit", NC_GIT_COMMIT,
                        "os", "linux", "arch", arch, "build", "buildtype", NC_BUILDTYPE,
                        "sanitize", NC_SANITIZE, "store", store_backend_name(req->cfg->store),
                        "store_schema", store_schema_version(req->cfg->store));
  if (!v)
    return nc_err_set(err, NC_ERR_INTERNAL, "building the version answer failed");
  api_resp_json(resp, 200, v);
  return 0;
}
