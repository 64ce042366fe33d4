/* IPv4 text and prefix arithmetic. Our own strict parser rather than inet_aton,
 * which takes "10.1" and octal "010.0.0.1": an address in a request means one thing. */
#include <stdio.h>

#include "net/netlink.h"

/* 1 to `max_digits` decimal digits, no leading zero, at most `max`; returns the text
 * after them, or NULL. */
static const char *number(const char *s, int max_digits, unsigned max, unsigned *out)
{
  unsigned v = 0;
  int digits = 0;
  while (*s >= '0' && *s <= '9') {
    if (++digits > max_digits || (digits == 2 && v == 0))
      return NULL;
    v = v * 10 + (unsigned)(*s++ - '0');
  }
  if (digits == 0 || v > max)
    return NULL;
  *out = v;
  return s;
}

static const char *quad(const char *s, uint32_t *out)
{
  uint32_t a = 0;
  for (int i = 0; i < 4; i++) {
    unsigned part;
    if (i > 0 && *s++ != '.')
      return NULL;
    s = number(s, 3, 255, &part);
    if (!s)
      return NULL;
    a = a << 8 | part;
  }
  *out = a;
  return s;
}

int ip4_parse(const char *text, uint32_t *out)
{
  uint32_t a;
  const char *end = text ? quad(text, &a) : NULL;
  if (!end || *end)
    return -1;
  *out = a;
  return 0;
}

void ip4_format(uint32_t addr, char out[16])
{
  snprintf(out, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff, (addr >> 8) & 0xff,
           addr & 0xff);
}

static uint32_t mask_of(int prefix)
{
  return prefix <= 0 ? 0 : prefix >= 32 ? 0xffffffffu : 0xffffffffu << (32 - prefix);
}

int ip4_cidr_parse(const char *text, uint32_t *net, int *prefix)
{
  uint32_t a;
  unsigned len;
  const char *s = text ? quad(text, &a) : NULL;
  if (!s || *s++ != '/')
    return -1;
  s = number(s, 2, 32, &len);
  /* /31 and /32 leave no room for a gateway and a container; below /8 is a typo. */
  if (!s || *s || len < 8 || len > 30 || (a & ~mask_of((int)len)))
    return -1;
  *net = a;
  *prefix = (int)len;
  return 0;
}

bool ip4_overlap(uint32_t a, int alen, uint32_t b, int blen)
{
  /* Two prefixes overlap exactly when the shorter one contains the other. */
  uint32_t m = mask_of(alen < blen ? alen : blen);
  return (a & m) == (b & m);
}
