// The web console's files, embedded in the binary at build time (cli/console/embed.cmake).
#pragma once

#include <cstddef>
#include <string_view>

namespace beanpole::cli {

struct console_asset {
  std::string_view path;          ///< "/index.html", "/console.js", ...
  std::string_view content_type;  ///< with charset for text
  std::string_view data;
};

extern const console_asset console_assets[];
extern const std::size_t console_asset_count;

}  // namespace beanpole::cli
