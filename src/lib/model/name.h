/* The one rule every user-chosen name follows (namespaces, and later clusters,
 * networks, cargoes): an RFC 1123 DNS label, because names end up in host names,
 * DNS entries and container names. 1-63 bytes of [a-z0-9-], starting and ending
 * with a letter or digit. */
#pragma once

#include <stdbool.h>

#include "base/err.h"

#define NC_NAME_MAX 63

bool nc_name_valid(const char *name);
/* NC_ERR_INVALID "invalid <what> name '<name>': <why>" when `name` breaks the rule. */
int nc_name_check(const char *what, const char *name, struct nc_err *err);
