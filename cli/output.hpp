// Printing results on stdout, in text or --json form.
#pragma once

#include <string_view>

#include <beanpole/types.hpp>

#include "json_body.hpp"

namespace beanpole::cli {

/// One JSON value on one line.
void print_json(const json& value);
/// `text` and a newline.
void print_line(std::string_view text);

/// {"id":N[,"tube":"..."],"body"|"body_base64":...}; `tube` is left out when empty.
json job_json(job_id id, std::string_view tube, std::string_view body);

}  // namespace beanpole::cli
