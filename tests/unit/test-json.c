#include "base/json.h"
#include "tap.h"

static int parse(const char *s, json_t **out, struct nc_err *err)
{
  return nc_json_parse_object(s, strlen(s), out, err);
}

int main(void)
{
  struct nc_err err = NC_ERR_INIT;
  json_t *v = NULL;

  ok(nc_json_depth_ok("{\"a\":[1,{\"b\":2}]}", 16, 3), "depth 3 within 3");
  ok(!nc_json_depth_ok("[[[[1]]]]", 9, 3), "depth 4 over 3");
  ok(nc_json_depth_ok("{\"a\":\"[[[[[[\"}", 14, 1), "brackets in strings do not count");
  ok(nc_json_depth_ok("{\"a\":\"\\\"[[[[\"}", 15, 1), "escaped quotes keep the string open");

  char deep[200];
  size_t n = 0;
  for (int i = 0; i < 65; i++)
    deep[n++] = '[';
  for (int i = 0; i < 65; i++)
    deep[n++] = ']';
  deep[n] = '\0';
  is_int(parse(deep, &v, &err), -1, "65 levels refused");
  is_int(err.kind, NC_ERR_BAD_REQUEST, "as bad_request");
  ok(strstr(err.msg, "64") != NULL, "message names the limit: %s", err.msg);

  is_int(parse("{\"name\": ", &v, &err), -1, "truncated JSON refused");
  is_int(err.kind, NC_ERR_BAD_REQUEST, "as bad_request");
  ok(strstr(err.msg, "line 1") != NULL, "message says where: %s", err.msg);
  is_int(parse("[1,2]", &v, &err), -1, "an array is not an object");
  is_int(parse("", &v, &err), -1, "empty body refused");
  ok(strstr(err.msg, "empty") != NULL, "message says empty: %s", err.msg);
  is_int(parse("{\"a\":1,\"a\":2}", &v, &err), -1, "duplicate keys refused");

  is_int(parse("{\"name\":\"dev\",\"x\":1}", &v, &err), 0, "object parsed");
  static const char *const fields[] = { "name", NULL };
  is_int(nc_json_check_fields(v, fields, &err), -1, "unknown field refused");
  is_int(err.kind, NC_ERR_INVALID, "as invalid");
  ok(strstr(err.msg, "'x'") != NULL, "message names the field: %s", err.msg);
  const char *s;
  is_int(nc_json_get_string(v, "name", true, &s, &err), 0, "string field read");
  is_str(s, "dev", "value");
  is_int(nc_json_get_string(v, "x", true, &s, &err), -1, "number is not a string");
  ok(strstr(err.msg, "'x'") && strstr(err.msg, "string"), "message: %s", err.msg);
  is_int(nc_json_get_string(v, "missing", true, &s, &err), -1, "missing required field");
  ok(strstr(err.msg, "required") != NULL, "message: %s", err.msg);
  is_int(nc_json_get_string(v, "missing", false, &s, &err), 0, "missing optional field is fine");
  ok(s == NULL, "and reads as NULL");
  json_decref(v);
  return tap_done();
}
