/* The little JSON the shim needs, without a JSON library (it keeps the shim small):
 * escaping strings for the lines it writes, and reading one string field of the
 * runtime's own log lines ({"level":"error","msg":"…","time":"…"}). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shim.h"

static const char hex[] = "0123456789abcdef";

/* Length of the valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_valid(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];
  size_t len;
  unsigned cp;
  if (c >= 0xc2 && c <= 0xdf) {
    len = 2;
    cp = c & 0x1f;
  } else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    cp = c & 0x0f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (len > n)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xc0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3f);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
    return 0;
  return len;
}

size_t shim_json_escape(char *out, const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s;
  char *o = out;
  for (size_t i = 0; i < len;) {
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t n = utf8_valid(p + i, len - i);
      if (n == 0) {
        memcpy(o, "\\ufffd", 6);
        o += 6;
        i++;
      } else {
        memcpy(o, p + i, n);
        o += n;
        i += n;
      }
      continue;
    }
    i++;
    switch (c) {
    case '"':
    case '\\':
      *o++ = '\\';
      *o++ = (char)c;
      break;
    case '\n':
      *o++ = '\\';
      *o++ = 'n';
      break;
    case '\r':
      *o++ = '\\';
      *o++ = 'r';
      break;
    case '\t':
      *o++ = '\\';
      *o++ = 't';
      break;
    default:
      if (c < 0x20) {
        memcpy(o, "\\u00", 4);
        o[4] = hex[c >> 4];
        o[5] = hex[c & 15];
        o += 6;
      } else {
        *o++ = (char)c;
      }
    }
  }
  return (size_t)(o - out);
}

/* ---- reading */

struct cursor {
  const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
    c->p++;
}

static int hex4(const char *p, const char *end, unsigned *out)
{
  if (end - p < 4)
    return -1;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    const char *h = strchr(hex, p[i] | 0x20);
    if (!h || !p[i])
      return -1;
    v = v * 16 + (unsigned)(h - hex);
  }
  *out = v;
  return 0;
}

/* Appends to out; once a character does not fit, the rest is dropped (whole
 * characters only) and *n becomes SIZE_MAX. */
static void put(char *out, size_t size, size_t *n, const char *bytes, size_t len)
{
  if (!out || *n == SIZE_MAX)
    return;
  if (*n + len >= size) {
    out[*n] = '\0';
    *n = SIZE_MAX;
    return;
  }
  memcpy(out + *n, bytes, len);
  *n += len;
}

static size_t utf8_encode(unsigned cp, char *b)
{
  if (cp < 0x80) {
    b[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    b[0] = (char)(0xc0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  if (cp < 0x10000) {
    b[0] = (char)(0xe0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
  }
  b[0] = (char)(0xf0 | (cp >> 18));
  b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
  b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
  b[3] = (char)(0x80 | (cp & 0x3f));
  return 4;
}

/* A string at c->p (opening quote included); decoded into out when out is not NULL. */
static int read_string(struct cursor *c, char *out, size_t size)
{
  size_t n = 0;
  if (c->p >= c->end || *c->p != '"')
    return -1;
  c->p++;
  while (c->p < c->end) {
    char ch = *c->p++;
    if (ch == '"') {
      if (out && n != SIZE_MAX)
        out[n] = '\0';
      return 0;
    }
    if (ch != '\\') {
      put(out, size, &n, &ch, 1);
      continue;
    }
    if (c->p >= c->end)
      return -1;
    char e = *c->p++;
    const char *simple = strchr("\"\\/bfnrt", e);
    if (simple && e) {
      static const char to[] = "\"\\/\b\f\n\r\t";
      put(out, size, &n, &to[simple - "\"\\/bfnrt"], 1);
      continue;
    }
    unsigned cp, lo;
    if (e != 'u' || hex4(c->p, c->end, &cp) < 0)
      return -1;
    c->p += 4;
    if (cp >= 0xd800 && cp <= 0xdbff && c->end - c->p >= 6 && c->p[0] == '\\' &&
        c->p[1] == 'u' && hex4(c->p + 2, c->end, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff) {
      cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      c->p += 6;
    } else if (cp >= 0xd800 && cp <= 0xdfff) {
      cp = 0xfffd;
    }
    char b[4];
    put(out, size, &n, b, utf8_encode(cp, b));
  }
  return -1;
}

/* Skips any value; nesting is only counted (strings are read so brackets in them do
 * not count). */
static int skip_value(struct cursor *c)
{
  int depth = 0;
  do {
    skip_ws(c);
    if (c->p >= c->end)
      return -1;
    char ch = *c->p;
    if (ch == '"') {
      if (read_string(c, NULL, 0) < 0)
        return -1;
      continue;
    }
    if (ch == '{' || ch == '[')
      depth++;
    else if (ch == '}' || ch == ']')
      depth--;
    else if (depth == 0) {
      /* a number, true, false or null */
      while (c->p < c->end && !strchr(",}] \t\r\n", *c->p))
        c->p++;
      return 0;
    }
    c->p++;
  } while (depth > 0);
  return depth == 0 ? 0 : -1;
}

int shim_json_get_string(const char *line, size_t len, const char *key, char *out, size_t size)
{
  struct cursor c = { line, line + len };
  char name[64];
  skip_ws(&c);
  if (c.p >= c.end || *c.p++ != '{')
    return -1;
  for (;;) {
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}')
      return -1;
    if (read_string(&c, name, sizeof name) < 0)
      return -1;
    skip_ws(&c);
    if (c.p >= c.end || *c.p++ != ':')
      return -1;
    skip_ws(&c);
    if (strcmp(name, key) == 0)
      return c.p < c.end && *c.p == '"' ? read_string(&c, out, size) : -1;
    if (skip_value(&c) < 0)
      return -1;
    skip_ws(&c);
    if (c.p >= c.end || *c.p != ',')
      return -1;
    c.p++;
  }
}

void shim_time_format(const struct timespec *ts, char *out, size_t size)
{
  struct tm tm;
  time_t t = ts->tv_sec;
  size_t n = gmtime_r(&t, &tm) ? strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm) : 0;
  if (n == 0) {
    snprintf(out, size, "%lld", (long long)ts->tv_sec);
    return;
  }
  char frac[24] = "";
  if (ts->tv_nsec > 0) {
    snprintf(frac, sizeof frac, ".%09ld", ts->tv_nsec);
    size_t f = strlen(frac);
    while (frac[f - 1] == '0')
      frac[--f] = '\0';
  }
  snprintf(out + n, size - n, "%sZ", frac);
}
