/* HTTP/1.1 framing for the client (RFC 9112): the request head, and the
 * answer's status line, headers and body (Content-Length, chunked, or until
 * the server closes). Everything read is bounded: the header block and the
 * trailers by NC_HTTP_MAX_HEAD, a chunk-size line by CHUNK_LINE_MAX. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/parse.h"
#include "client/http.h"

#define CHUNK_LINE_MAX 1024 /* a chunk size with extensions */
#define MAX_INTERIM 16      /* 1xx answers skipped before the real one */
#define LINE_TOO_LONG (-3)

/* RFC 9110 tchar: what a method or a header name may be made of. */
static bool is_tchar(unsigned char ch)
{
  return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
         (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* ASCII only: strcasecmp follows the locale (a Turkish 'I' would not match). */
static bool ascii_ieq(const char *a, const char *b)
{
  for (; *a && *b; a++, b++) {
    char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
    char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
    if (x != y)
      return false;
  }
  return *a == *b;
}

static int hexval(char ch)
{
  if (ch >= '0' && ch <= '9')
    return ch - '0';
  if (ch >= 'a' && ch <= 'f')
    return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F')
    return ch - 'A' + 10;
  return -1;
}

int nc_http_request_head(struct nc_buf *out, const char *method, const char *path,
                         const char *host, const char *content_type, int64_t body_len,
                         const char *upgrade, struct nc_err *err)
{
  size_t mlen = strlen(method);
  bool bad = mlen == 0 || mlen > 16;
  for (const char *p = method; !bad && *p; p++)
    bad = !is_tchar((unsigned char)*p);
  if (bad)
    return nc_err_set(err, NC_ERR_INVALID, "invalid request method '%.20s'", method);
  if (path[0] != '/')
    return nc_err_set(err, NC_ERR_INVALID, "request path must start with '/': %.80s", path);
  if (strlen(path) > 4096)
    return nc_err_set(err, NC_ERR_INVALID, "request path too long: %.80s…", path);
  /* No space, control byte or non-ASCII: each would end the request line or
   * start a header of the caller's choosing. Callers percent-encode. */
  for (const unsigned char *p = (const unsigned char *)path; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f)
      return nc_err_set(err, NC_ERR_INVALID,
                        "request path has a byte that cannot go into a request: %.80s", path);
  if (content_type) {
    bad = strlen(content_type) > 200;
    for (const unsigned char *p = (const unsigned char *)content_type; !bad && *p; p++)
      bad = *p < 0x20 || *p >= 0x7f;
    if (bad)
      return nc_err_set(err, NC_ERR_INVALID, "invalid content type '%.80s'", content_type);
  }

  bad = upgrade && (!*upgrade || strlen(upgrade) > 64);
  for (const char *p = upgrade; !bad && p && *p; p++)
    bad = !is_tchar((unsigned char)*p) && *p != '/';
  if (bad)
    return nc_err_set(err, NC_ERR_INVALID, "invalid protocol to upgrade to '%.80s'", upgrade);

  int r = nc_buf_printf(out, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: nanocl\r\n", method,
                        path, host);
  if (r == 0 && upgrade)
    r = nc_buf_printf(out, "Connection: Upgrade\r\nUpgrade: %s\r\n", upgrade);
  else if (r == 0)
    r = nc_buf_printf(out, "Connection: keep-alive\r\n");
  if (r == 0 && content_type)
    r = nc_buf_printf(out, "Content-Type: %s\r\n", content_type);
  if (r == 0 && body_len >= 0)
    r = nc_buf_printf(out, "Content-Length: %lld\r\n", (long long)body_len);
  else if (r == 0 && body_len == NC_HTTP_CHUNKED)
    r = nc_buf_printf(out, "Transfer-Encoding: chunked\r\n");
  if (r == 0)
    r = nc_buf_append(out, "\r\n", 2);
  if (r < 0)
    return nc_err_sys(err, ENOMEM, "building the request");
  return 0;
}

static int malformed(struct nc_conn *c, const char *what, struct nc_err *err)
{
  return nc_err_set(err, NC_ERR_INTERNAL, "talking to nanocld at %s: malformed answer: %s",
                    c->peer, what);
}

static int cut_short(struct nc_conn *c, struct nc_err *err)
{
  return nc_err_set(err, NC_ERR_UNAVAILABLE,
                    "talking to nanocld at %s: the connection closed in the middle of the answer",
                    c->peer);
}

/* "HTTP/1.1 200 OK" (the reason may be empty or absent). */
static int parse_status(const char *s, struct nc_http_resp *r, bool *http10)
{
  if (strncmp(s, "HTTP/1.", 7) != 0 || s[7] < '0' || s[7] > '9' || s[8] != ' ')
    return -1;
  int status = 0;
  for (int i = 9; i < 12; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    status = status * 10 + (s[i] - '0');
  }
  if ((s[12] != ' ' && s[12] != '\0') || status < 100 || status > 599)
    return -1;
  r->status = status;
  *http10 = s[7] == '0';
  return 0;
}

static char *trim(char *s)
{
  while (*s == ' ' || *s == '\t')
    s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  return s;
}

/* Connection: a comma-separated list of options. */
static void connection_options(char *v, bool *close, bool *keep_alive)
{
  char *save = NULL;
  for (char *tok = strtok_r(v, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    tok = trim(tok);
    if (ascii_ieq(tok, "close"))
      *close = true;
    else if (ascii_ieq(tok, "keep-alive"))
      *keep_alive = true;
  }
}

/* The head in `h` (NUL-terminated, ends with an empty line) → r. */
static int parse_head(struct nc_conn *c, char *h, size_t len, bool head_request,
                      struct nc_http_resp *r, struct nc_err *err)
{
  if (memchr(h, '\0', len))
    return malformed(c, "a NUL byte in the headers", err);
  if (h[0] == '\n' || h[0] == '\r')
    return malformed(c, "bad status line", err);
  bool http10 = false, conn_close = false, conn_keep = false;
  char *next;
  for (char *line = h; *line; line = next) {
    char *nl = strchr(line, '\n');
    *nl = '\0'; /* the head ends with '\n', so there is one */
    next = nl + 1;
    if (nl > line && nl[-1] == '\r')
      nl[-1] = '\0';
    if (line == h) {
      if (parse_status(line, r, &http10) < 0)
        return malformed(c, "bad status line", err);
      continue;
    }
    if (!*line)
      break;
    /* Folded lines (obsolete since RFC 7230) never come from nanocld. */
    if (*line == ' ' || *line == '\t')
      return malformed(c, "a folded header line", err);
    char *colon = strchr(line, ':');
    if (!colon || colon == line)
      return malformed(c, "a header line without a name", err);
    for (char *p = line; p < colon; p++)
      if (!is_tchar((unsigned char)*p))
        return malformed(c, "a bad header name", err);
    *colon = '\0';
    char *v = trim(colon + 1);

    if (ascii_ieq(line, "Content-Length")) {
      uint64_t n;
      if (nc_parse_u64(v, INT64_MAX, &n) < 0 || (r->has_length && n != r->length))
        return malformed(c, "bad Content-Length", err);
      r->has_length = true;
      r->length = n;
    } else if (ascii_ieq(line, "Transfer-Encoding")) {
      /* We send no TE header, so "chunked" is the only coding allowed. */
      if (r->chunked || !ascii_ieq(v, "chunked"))
        return malformed(c, "unsupported Transfer-Encoding", err);
      r->chunked = true;
    } else if (ascii_ieq(line, "Content-Type")) {
      snprintf(r->content_type, sizeof r->content_type, "%s", v);
    } else if (ascii_ieq(line, "Connection")) {
      connection_options(v, &conn_close, &conn_keep);
    }
  }

  r->keep_alive = http10 ? conn_keep && !conn_close : !conn_close;
  if (head_request || r->status < 200 || r->status == 204 || r->status == 304) {
    r->done = true; /* no body, whatever the headers announce */
  } else if (r->chunked) {
    r->chunk_state = CHUNK_SIZE;
    /* Both framings: a sign of request smuggling; RFC 9112 6.3 says close. */
    if (r->has_length)
      r->keep_alive = false;
  } else if (r->has_length) {
    r->remaining = r->length;
    r->done = r->length == 0;
  } else {
    r->until_close = true;
    r->keep_alive = false;
  }
  return 0;
}

int nc_http_read_head(struct nc_conn *c, bool head_request, bool upgrade,
                      struct nc_http_resp *r, struct nc_err *err)
{
  struct nc_buf head;
  nc_buf_init(&head, NC_HTTP_MAX_HEAD);
  bool any = false;
  int ret = -1;
  for (int interim = 0;; interim++) {
    memset(r, 0, sizeof *r);
    nc_buf_reset(&head);
    /* state: 0 inside a line, 1 just after LF, 2 after LF CR. LF LF or
     * LF CR LF ends the head; bare LFs are accepted as line ends. */
    int state = 0;
    bool end = false;
    while (!end) {
      if (c->rpos == c->rlen) {
        ssize_t n = nc_conn_fill(c, err);
        if (n == 0 || (n < 0 && !any && nc_conn_peer_gone(err->sys_errno))) {
          if (any) {
            cut_short(c, err);
            goto out;
          }
          nc_err_set(err, NC_ERR_UNAVAILABLE,
                     "talking to nanocld at %s: the connection closed before an answer", c->peer);
          ret = -2;
          goto out;
        }
        if (n < 0)
          goto out;
      }
      any = true;
      size_t i = c->rpos;
      for (; i < c->rlen && !end; i++) {
        char ch = c->rbuf[i];
        if (ch == '\n') {
          end = state != 0;
          state = 1;
        } else if (ch == '\r')
          state = state == 1 ? 2 : 0;
        else
          state = 0;
      }
      if (nc_buf_append(&head, c->rbuf + c->rpos, i - c->rpos) < 0) {
        if (errno == EFBIG)
          nc_err_set(err, NC_ERR_TOO_LARGE,
                     "talking to nanocld at %s: the answer's headers are larger than %u bytes",
                     c->peer, NC_HTTP_MAX_HEAD);
        else
          nc_err_sys(err, ENOMEM, "reading the answer");
        goto out;
      }
      c->rpos = i;
    }
    if (parse_head(c, head.data, head.len, head_request, r, err) < 0)
      goto out;
    if (r->status >= 200)
      break;
    if (r->status == 101 && upgrade) {
      r->done = true;
      r->keep_alive = false;
      break;
    }
    /* 101 would switch protocols, which was not asked for. */
    if (r->status == 101 || interim >= MAX_INTERIM) {
      malformed(c, "unexpected 1xx answers", err);
      goto out;
    }
  }
  ret = 0;
out:
  nc_buf_free(&head);
  return ret;
}

/* One line of the chunked framing into dst (NUL-terminated, without CR LF);
 * bytes past dstsz - 1 are only counted. Returns its length, -1 on error,
 * LINE_TOO_LONG (err not set) past `max`. */
static ssize_t read_line(struct nc_conn *c, char *dst, size_t dstsz, size_t max,
                         struct nc_err *err)
{
  size_t len = 0;
  for (;;) {
    if (c->rpos == c->rlen) {
      ssize_t n = nc_conn_fill(c, err);
      if (n < 0)
        return -1;
      if (n == 0)
        return cut_short(c, err);
    }
    char *start = c->rbuf + c->rpos;
    size_t avail = c->rlen - c->rpos;
    char *nl = memchr(start, '\n', avail);
    size_t take = nl ? (size_t)(nl - start) : avail;
    if (take > max - len)
      return LINE_TOO_LONG;
    if (len < dstsz - 1) {
      size_t k = take < dstsz - 1 - len ? take : dstsz - 1 - len;
      memcpy(dst + len, start, k);
    }
    len += take;
    c->rpos += take + (nl ? 1 : 0);
    if (nl)
      break;
  }
  size_t stored = len < dstsz - 1 ? len : dstsz - 1;
  dst[stored] = '\0';
  if (len && len == stored && dst[len - 1] == '\r')
    dst[--len] = '\0';
  return (ssize_t)len;
}

/* chunk-size [ BWS ";" chunk-ext ]: hex digits, at most 15 (< 2^60). */
static int parse_chunk_size(const char *s, uint64_t *out)
{
  uint64_t v = 0;
  int digits = 0;
  for (; hexval(*s) >= 0; s++) {
    if (++digits > 15)
      return -1;
    v = v * 16 + (uint64_t)hexval(*s);
  }
  while (*s == ' ' || *s == '\t')
    s++;
  if (!digits || (*s && *s != ';'))
    return -1;
  *out = v;
  return 0;
}

/* Steps the chunked framing up to the next data byte or the end. */
static int chunk_frame(struct nc_conn *c, struct nc_http_resp *r, struct nc_err *err)
{
  char line[CHUNK_LINE_MAX + 1];
  ssize_t n;
  switch (r->chunk_state) {
  case CHUNK_SIZE:
    n = read_line(c, line, sizeof line, CHUNK_LINE_MAX, err);
    if (n == LINE_TOO_LONG)
      return malformed(c, "chunk size line too long", err);
    if (n < 0)
      return -1;
    if (parse_chunk_size(line, &r->remaining) < 0) {
      nc_err_set(err, NC_ERR_INTERNAL, "talking to nanocld at %s: malformed answer: "
                 "bad chunk size '%.40s'", c->peer, line);
      return -1;
    }
    r->chunk_state = r->remaining ? CHUNK_DATA : CHUNK_TRAILER;
    return 0;
  case CHUNK_CRLF:
    n = read_line(c, line, sizeof line, 8, err);
    if (n == LINE_TOO_LONG || n > 0)
      return malformed(c, "no line end after a chunk", err);
    if (n < 0)
      return -1;
    r->chunk_state = CHUNK_SIZE;
    return 0;
  case CHUNK_TRAILER:
    /* Trailer fields carry nothing nanocl needs: skipped, but bounded. */
    n = read_line(c, line, sizeof line,
                  r->trailer_bytes < NC_HTTP_MAX_HEAD ? NC_HTTP_MAX_HEAD - r->trailer_bytes : 0,
                  err);
    if (n == LINE_TOO_LONG)
      return nc_err_set(err, NC_ERR_TOO_LARGE,
                        "talking to nanocld at %s: the answer's trailers are larger than %u "
                        "bytes", c->peer, NC_HTTP_MAX_HEAD);
    if (n < 0)
      return -1;
    r->trailer_bytes += (size_t)n + 1;
    if (n == 0)
      r->done = true;
    return 0;
  case CHUNK_DATA:
    break;
  }
  return 0;
}

ssize_t nc_http_read_body(struct nc_conn *c, struct nc_http_resp *r, char *dst, size_t cap,
                          struct nc_err *err)
{
  while (!r->done) {
    if (r->chunked && r->chunk_state != CHUNK_DATA) {
      if (chunk_frame(c, r, err) < 0)
        return -1;
      continue;
    }
    if (c->rpos == c->rlen) {
      ssize_t n = nc_conn_fill(c, err);
      if (n < 0)
        return -1;
      if (n == 0) {
        if (!r->until_close)
          return cut_short(c, err);
        r->done = true;
        return 0;
      }
    }
    size_t k = c->rlen - c->rpos;
    if (k > cap)
      k = cap;
    if (!r->until_close && k > r->remaining)
      k = (size_t)r->remaining;
    memcpy(dst, c->rbuf + c->rpos, k);
    c->rpos += k;
    if (!r->until_close) {
      r->remaining -= k;
      if (r->remaining == 0) {
        if (r->chunked)
          r->chunk_state = CHUNK_CRLF;
        else
          r->done = true;
      }
    }
    return (ssize_t)k;
  }
  return 0;
}
