/* /v1/images, /v1/login, /v1/logout, /v1/system/df */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api-internal.h"
#include "api/stream.h"
#include "base/json.h"
#include "image/manifest.h"
#include "image/ref.h"
#include "image/service.h"

/* A pull or import running in a thread of its own, streaming its events. */
struct job {
  struct image_service *svc;
  struct api_stream *stream;
  char *ref;
  char *platform;
  char *archive; /* import: the spooled upload, removed at the end */
};

static void emit(void *ctx, json_t *event)
{
  api_stream_write(ctx, event);
}

static void *job_run(void *arg)
{
  struct job *job = arg;
  struct nc_err err = NC_ERR_INIT;
  json_t *image = NULL;
  int r = job->archive ? image_import(job->svc, job->archive, job->ref, emit, job->stream,
                                      &image, &err)
                       : image_pull(job->svc, job->ref, job->platform, emit, job->stream,
                                    &image, &err);
  json_t *last = r == 0 ? json_pack("{s:s, s:o}", "status", "done", "image", image)
                        : json_pack("{s:s, s:s, s:s}", "status", "error", "error", err.msg,
                                    "kind", nc_err_kind_name(err.kind));
  api_stream_write(job->stream, last);
  json_decref(last);
  api_stream_close(job->stream);
  if (job->archive)
    unlink(job->archive);
  atomic_fetch_sub(&job->svc->active, 1);
  free(job->ref);
  free(job->platform);
  free(job->archive);
  free(job);
  return NULL;
}

static int start_job(struct api_req *req, struct api_resp *resp, struct job *job,
                     struct nc_err *err)
{
  job->svc = req->cfg->images;
  /* Kept here: once the thread runs, `job` is its to free at any moment. */
  struct api_stream *stream = api_stream_new();
  if (!stream)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  job->stream = stream;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_t th;
  atomic_fetch_add(&job->svc->active, 1);
  int rc = pthread_create(&th, &attr, job_run, job);
  pthread_attr_destroy(&attr);
  if (rc != 0) {
    atomic_fetch_sub(&job->svc->active, 1);
    api_stream_close(stream);
    struct MHD_Response *r = api_stream_response(stream); /* drops the other ref */
    if (r)
      MHD_destroy_response(r);
    return nc_err_set(err, NC_ERR_INTERNAL, "cannot start a thread");
  }
  resp->status = 200;
  resp->stream = stream;
  return 0;
}

int api_image_pull(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "ref", "platform", NULL };
  json_t *body;
  const char *ref, *platform;
  if (api_req_json_object(req, &body, err) < 0)
    return -1;
  struct image_ref parsed;
  struct platform plat;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "ref", true, &ref, err);
  if (r == 0)
    r = nc_json_get_string(body, "platform", false, &platform, err);
  /* Refuse what is malformed now, with a 4xx, before the stream starts. */
  if (r == 0)
    r = image_ref_parse(ref, req->cfg->images->settings.default_registry, &parsed, err);
  if (r == 0)
    r = platform_parse(platform, &plat, err);
  struct job *job = r == 0 ? calloc(1, sizeof *job) : NULL;
  if (r == 0 && job) {
    job->ref = strdup(ref);
    job->platform = platform ? strdup(platform) : NULL;
  }
  json_decref(body);
  if (r < 0)
    return -1;
  if (!job || !job->ref) {
    free(job ? job->ref : NULL);
    free(job);
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  }
  return start_job(req, resp, job, err);
}

int api_image_import(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  const char *ref = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "ref");
  struct image_ref parsed;
  if (ref && *ref &&
      image_ref_parse(ref, req->cfg->images->settings.default_registry, &parsed, err) < 0)
    return -1;
  struct job *job = calloc(1, sizeof *job);
  if (!job)
    return nc_err_set(err, NC_ERR_INTERNAL, "out of memory");
  job->ref = ref && *ref ? strdup(ref) : NULL;
  job->archive = *req->upload_path; /* the job removes it when done */
  *req->upload_path = NULL;
  int r = start_job(req, resp, job, err);
  if (r < 0) {
    unlink(job->archive);
    free(job->archive);
    free(job->ref);
    free(job);
  }
  return r;
}

int api_image_list(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  json_t *out;
  if (image_list(req->cfg->images, &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_image_inspect(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  json_t *out;
  if (image_inspect(req->cfg->images, req->params[0], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_image_history(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  json_t *out;
  if (image_history(req->cfg->images, req->params[0], &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_image_tag(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "name", NULL };
  json_t *body, *out = NULL;
  const char *name;
  if (api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "name", true, &name, err);
  if (r == 0)
    r = image_tag(req->cfg->images, req->params[0], name, &out, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 201, out);
  return 0;
}

int api_image_delete(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  bool force;
  json_t *out;
  if (api_query_flag(req, "force", &force, err) < 0 ||
      image_remove(req->cfg->images, req->params[0], force, &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_system_df(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  json_t *out;
  if (image_disk_usage(req->cfg->images, &out, err) < 0)
    return -1;
  api_resp_json(resp, 200, out);
  return 0;
}

int api_login(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "registry", "username", "password", NULL };
  json_t *body;
  const char *registry, *user, *pass;
  if (api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "registry", true, &registry, err);
  if (r == 0)
    r = nc_json_get_string(body, "username", true, &user, err);
  if (r == 0)
    r = nc_json_get_string(body, "password", true, &pass, err);
  if (r == 0)
    r = image_login(req->cfg->images, registry, user, pass, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 200, json_pack("{s:s}", "status", "Login Succeeded"));
  return 0;
}

int api_logout(struct api_req *req, struct api_resp *resp, struct nc_err *err)
{
  static const char *const fields[] = { "registry", NULL };
  json_t *body;
  const char *registry;
  if (api_req_json_object(req, &body, err) < 0)
    return -1;
  int r = nc_json_check_fields(body, fields, err);
  if (r == 0)
    r = nc_json_get_string(body, "registry", true, &registry, err);
  if (r == 0)
    r = image_logout(req->cfg->images, registry, err);
  json_decref(body);
  if (r < 0)
    return -1;
  api_resp_json(resp, 200, json_pack("{s:s}", "status", "Removed login credentials"));
  return 0;
}
