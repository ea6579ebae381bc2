// What `top` shows: samples of the server and its tubes, and their rendering as text lines (with
// optional ANSI colour) or as one JSON object. No I/O beyond the client calls in `take_sample`.
#pragma once

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include <beanpole/client.hpp>
#include <beanpole/proto/stats.hpp>
#include <beanpole/types.hpp>

#include "json_body.hpp"

namespace beanpole::cli {

struct top_sample {
  std::chrono::steady_clock::time_point at;
  std::time_t wall = 0;
  proto::server_stats server;
  std::vector<proto::tube_stats> tubes;  ///< sorted by name
};

/// Stats of the server and of every tube (or only of `only`, when not empty). Tubes that vanish
/// between the list and their stats are left out. Throws `command_failure`.
top_sample take_sample(client& c, const std::vector<tube_name>& only);

struct top_style {
  std::string address;  ///< shown in the title
  bool color = false;
  bool interactive = false;  ///< adds the "q to quit" hint
  int width = 0;             ///< truncate lines to this many columns; 0: no limit
};

/// The screen for `cur`; rates come from the difference with `prev` (none on the first one).
std::vector<std::string> render_top(const top_sample& cur, const top_sample* prev,
                                    const top_style& style);

/// `cur` as one JSON object, rates null when there is no `prev`.
json top_json(const top_sample& cur, const top_sample* prev);

}  // namespace beanpole::cli
