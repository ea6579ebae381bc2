// What `top` shows with several servers: a sample of every server, their totals, and a
// per-server breakdown below the totals' view (text), or beside them (JSON).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <beanpole/pool.hpp>

#include "json_body.hpp"
#include "top_view.hpp"

namespace beanpole::cli {

struct pool_top_sample {
  top_sample total;                ///< the count fields summed over the servers that answered
  std::vector<std::string> names;  ///< every server, in the order given
  std::vector<std::optional<top_sample>> servers;  ///< empty: it did not answer
  std::vector<std::string> errors;                 ///< why, for those that did not
};

/// Stats of every server and of every tube any of them has (or only of `only`). Throws
/// `command_failure` when no server answered.
pool_top_sample take_pool_sample(pool& p, const std::vector<tube_name>& only);

/// The totals' view (as `render_top`), then one line per server.
std::vector<std::string> render_pool_top(const pool_top_sample& cur, const pool_top_sample* prev,
                                         const top_style& style);

/// `{"time": T, "total": {...}, "servers": {"ADDR": {...} or {"error": "..."}}}`, each part as
/// `top_json` makes it.
json pool_top_json(const pool_top_sample& cur, const pool_top_sample* prev);

}  // namespace beanpole::cli
