// The stats structs as ordered `key: value` entries, for generic printing.
//
// Workaround: the client returns only typed structs, not the raw entries of the server's reply,
// so the server's keys and order are rebuilt here from the structs' documented fields (plus
// `other` for keys the library does not know). The typed values also tell integers from text,
// which the raw text alone cannot ("version: 1.12", a tube named "123").
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
