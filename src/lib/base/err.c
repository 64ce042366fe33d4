#include "base/err.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const struct {
  const char *name;
  unsigned status;
} kinds[NC_ERR_KIND_MAX] = {
  [NC_ERR_NONE] = { "none", 200 },
  [NC_ERR_BAD_REQUEST] = { "bad_request", 400 },
  [NC_ERR_NOT_FOUND] = { "not_found", 404 },
  [NC_ERR_METHOD] = { "method_not_allowed", 405 },
  [NC_ERR_TIMEOUT] = { "timeout", 408 },
  [NC_ERR_CONFLICT] = { "conflict", 409 },
  [NC_ERR_TOO_LARGE] = { "too_large", 413 },
  [NC_ERR_INVALID] = { "invalid", 422 },
  [NC_ERR_INTERNAL] = { "internal", 500 },
  [NC_ERR_UNAVAILABLE] = { "unavailable", 503 },
};

static void vset(struct nc_err *err, enum nc_err_kind kind, const char *fmt, va_list ap)
{
  err->kind = kind;
  err->sys_errno = 0;
  vsnprintf(err->msg, sizeof err->msg, fmt, ap);
}

int nc_err_set(struct nc_err *err, enum nc_err_kind kind, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vset(err, kind, fmt, ap);
  va_end(ap);
  return -1;
}

int nc_err_sys(struct nc_err *err, int errnum, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vset(err, NC_ERR_INTERNAL, fmt, ap);
  va_end(ap);
  err->sys_errno = errnum;
  size_t len = strlen(err->msg);
  const char *why = strerror(errnum);
  /* Append ": why", cut to fit. */
  if (len + 2 < sizeof err->msg) {
    memcpy(err->msg + len, ": ", 2);
    len += 2;
    size_t n = strnlen(why, sizeof err->msg - len - 1);
    memcpy(err->msg + len, why, n);
    err->msg[len + n] = '\0';
  }
  return -1;
}

int nc_err_wrap(struct nc_err *err, const char *fmt, ...)
{
  char prefix[NC_ERR_MSG_MAX];
  char inner[NC_ERR_MSG_MAX];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  memcpy(inner, err->msg, sizeof inner);
  /* Messages are capped at NC_ERR_MSG_MAX by design: cutting the tail is right. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation"
  snprintf(err->msg, sizeof err->msg, "%s: %s", prefix, inner);
#pragma GCC diagnostic pop
  if (err->kind == NC_ERR_NONE)
    err->kind = NC_ERR_INTERNAL;
  return -1;
}

void nc_err_clear(struct nc_err *err)
{
  err->kind = NC_ERR_NONE;
  err->sys_errno = 0;
  err->msg[0] = '\0';
}

const char *nc_err_kind_name(enum nc_err_kind kind)
{
  if ((unsigned)kind >= NC_ERR_KIND_MAX)
    return "internal";
  return kinds[kind].name;
}

unsigned nc_err_http_status(enum nc_err_kind kind)
{
  if ((unsigned)kind >= NC_ERR_KIND_MAX || kind == NC_ERR_NONE)
    return 500;
  return kinds[kind].status;
}

enum nc_err_kind nc_err_kind_from_http(unsigned status)
{
  for (int k = NC_ERR_BAD_REQUEST; k < NC_ERR_KIND_MAX; k++)
    if (kinds[k].status == status)
      return (enum nc_err_kind)k;
  return status >= 500 ? NC_ERR_INTERNAL : NC_ERR_BAD_REQUEST;
}
