// libFuzzer target for the NDJSON line decoder of `beanpole import` (cli/export_line.hpp) and the
// body rule it shares with `export` (cli/json_body.hpp). The input is one line; the seeds
// (corpus/export_line) are lines a real `beanpole export` wrote.
//
// Properties:
// - no input throws or crashes; a decoded job has a valid tube and 32-bit pri and ttr;
// - a tube override only ever turns a refusal into a success, never the reverse;
// - a decoded job, written back as export writes it, decodes to the same job;
// - any bytes, taken as a job's body, survive export's encoding and import's decoding.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "export_line.hpp"
#include "fuzz_check.hpp"
#include "json_body.hpp"

namespace {

using beanpole::tube_name;
using beanpole::cli::export_line;
using beanpole::cli::json;
using beanpole::cli::parse_export_line;

/// The line export writes for `job` (cmd_transfer.cpp: export_one).
std::string line_of(const export_line& job) {
  const bool delayed = job.opts.delay.count() > 0;
  json line = {{"id", 1},
               {"tube", job.tube.str()},
               {"pri", job.opts.pri},
               {"ttr", job.opts.ttr.count()},
               {"delay", job.opts.delay.count()},
               {"state", job.bury ? "buried" : (delayed ? "delayed" : "ready")}};
  beanpole::cli::set_body(line, job.body);
  return beanpole::cli::dump(line);
}

bool same(const export_line& a, const export_line& b) {
  return a.tube == b.tube && a.body == b.body && a.opts.pri == b.opts.pri &&
         a.opts.ttr == b.opts.ttr && a.opts.delay == b.opts.delay && a.bury == b.bury;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  export_line job;
  const auto bad = parse_export_line(text, std::nullopt, job);
  if (!bad) {
    FUZZ_CHECK(tube_name::is_valid(job.tube.view()));
    FUZZ_CHECK(job.opts.delay.count() >= 0 && job.opts.delay.count() <= 0xFFFFFFFF);
    FUZZ_CHECK(!(job.bury && job.opts.delay.count() > 0));  // a buried job has no delay
    FUZZ_CHECK(job.opts.ttr.count() >= 0 && job.opts.ttr.count() <= 0xFFFFFFFF);
    const std::string line = line_of(job);
    FUZZ_CHECK(line.find('\n') == std::string::npos);  // one job, one line
    export_line again;
    FUZZ_CHECK(!parse_export_line(line, std::nullopt, again));
    FUZZ_CHECK(same(again, job));
  } else {
    FUZZ_CHECK(!bad->empty());
  }

  const std::optional<tube_name> override_tube = tube_name("override");
  export_line overridden;
  const auto bad_overridden = parse_export_line(text, override_tube, overridden);
  if (!bad) FUZZ_CHECK(!bad_overridden);
  if (!bad_overridden) {
    FUZZ_CHECK(overridden.tube == *override_tube);
    if (!bad) FUZZ_CHECK(overridden.body == job.body && overridden.opts.pri == job.opts.pri);
  }

  // The input as a body: export's encoding, then import's decoding, gives every byte back.
  export_line as_body{tube_name("t"), std::string(text), {}};
  const std::string line = line_of(as_body);
  FUZZ_CHECK(line.find('\n') == std::string::npos);
  export_line decoded;
  FUZZ_CHECK(!parse_export_line(line, std::nullopt, decoded));
  FUZZ_CHECK(same(decoded, as_body));

  std::string base64_back;
  FUZZ_CHECK(beanpole::cli::base64_decode(beanpole::cli::base64_encode(text), base64_back));
  FUZZ_CHECK(base64_back == text);
  return 0;
}
