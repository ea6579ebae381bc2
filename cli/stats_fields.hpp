// The stats structs as ordered `key: value` entries, for generic printing.
//
// The entries come from `proto::fields_of`, in the server's order with typed values, which tell
// integers from text where the raw text cannot ("version: 1.12", a tube named "123").
#pragma once

#include <string>
#include <vector>

#include <beanpole/proto/stats.hpp>

#include "json_body.hpp"

namespace beanpole::cli {

/// One stats entry: the server's key, its value as the server prints it, and its type.
struct stat_entry {
  enum class kind { integer, real, boolean, text };
  std::string key;
  std::string value;
  kind type = kind::text;
};

std::vector<stat_entry> entries_of(const proto::server_stats& s);
std::vector<stat_entry> entries_of(const proto::tube_stats& s);
std::vector<stat_entry> entries_of(const proto::job_stats& s);

/// "key: value" lines.
std::string format_text(const std::vector<stat_entry>& entries);
/// One object; integer fields are JSON numbers, the rest strings as the server gave them.
json format_json(const std::vector<stat_entry>& entries);

}  // namespace beanpole::cli
