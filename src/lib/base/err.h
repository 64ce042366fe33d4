/* One error contract for all of libnanocl (after crun's error_handling.md).
 *
 * A fallible function takes `struct nc_err *err`, returns a negative value on
 * failure and fills `err` with a kind and a message naming what was wrong.
 * Callers add context with nc_err_wrap() on the way up ("outer: inner").
 * Only the edges (the API boundary, main() of each program) print an error or
 * map its kind to an HTTP status. Library code never exits.
 *
 * The message lives in the struct, so an error needs no allocation and cannot leak.
 */
#pragma once

#include <stdarg.h>

enum nc_err_kind {
  NC_ERR_NONE = 0,
  NC_ERR_BAD_REQUEST,  /* 400 malformed input (not JSON, too deep, bad query) */
  NC_ERR_NOT_FOUND,    /* 404 */
  NC_ERR_METHOD,       /* 405 */
  NC_ERR_TIMEOUT,      /* 408 the request took longer than allowed */
  NC_ERR_CONFLICT,     /* 409 exists already / would break an invariant */
  NC_ERR_TOO_LARGE,    /* 413 */
  NC_ERR_INVALID,      /* 422 a field is missing, mistyped, out of range or unknown */
  NC_ERR_INTERNAL,     /* 500 our own failure: disk, store, out of memory */
  NC_ERR_UNAVAILABLE,  /* 503 shutting down, or the peer cannot be reached */
  NC_ERR_KIND_MAX,
};

#define NC_ERR_MSG_MAX 1024

struct nc_err {
  enum nc_err_kind kind;
  int sys_errno; /* errno behind an NC_ERR_INTERNAL/UNAVAILABLE, else 0 */
  char msg[NC_ERR_MSG_MAX];
};

#define NC_ERR_INIT { NC_ERR_NONE, 0, { 0 } }

/* Set `err` and return -1, so a call site is one line:
 *   return nc_err_set (err, NC_ERR_INVALID, "bad name '%s'", name); */
int nc_err_set(struct nc_err *err, enum nc_err_kind kind, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Like nc_err_set with kind NC_ERR_INTERNAL, appending ": strerror(errnum)". */
int nc_err_sys(struct nc_err *err, int errnum, const char *fmt, ...)
  __attribute__((format(printf, 3, 4)));

/* Prefix context to an error already set: "context: previous message". Returns -1. */
int nc_err_wrap(struct nc_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void nc_err_clear(struct nc_err *err);

/* "not_found", "conflict", ...: the `kind` of the API's error body. */
const char *nc_err_kind_name(enum nc_err_kind kind);
/* 404, 409, ...: the HTTP status of the API's error response. */
unsigned nc_err_http_status(enum nc_err_kind kind);
/* The kind for an HTTP error status answered by the API (client side). */
enum nc_err_kind nc_err_kind_from_http(unsigned status);
