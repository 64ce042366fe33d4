#include "model/name.h"

#include <string.h>

static bool alnum(char c)
{
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static const char *why_invalid(const char *name)
{
  size_t len = strlen(name);
  if (len == 0)
    return "it is empty";
  if (len > NC_NAME_MAX)
    return "it is longer than 63 characters";
  for (size_t i = 0; i < len; i++)
    if (!alnum(name[i]) && name[i] != '-')
      return "only lower-case letters, digits and '-' are allowed";
  if (!alnum(name[0]) || !alnum(name[len - 1]))
    return "it must start and end with a lower-case letter or a digit";
  return NULL;
}

bool nc_name_valid(const char *name)
{
  return why_invalid(name) == NULL;
}

int nc_name_check(const char *what, const char *name, struct nc_err *err)
{
  const char *why = why_invalid(name);
  if (!why)
    return 0;
  /* Quote at most 80 bytes: the name came from outside and may be huge. */
  return nc_err_set(err, NC_ERR_INVALID, "invalid %s name '%.80s%s': %s", what, name,
                    strlen(name) > 80 ? "…" : "", why);
}
