#include "output.hpp"

#include <string>

#include "io.hpp"

namespace beanpole::cli {

void print_json(const json& value) {
  write_stdout(dump(value) + '\n');
}

void print_line(std::string_view text) {
  std::string line(text);
  line += '\n';
  write_stdout(line);
}

json job_json(job_id id, std::string_view tube, std::string_view body) {
  json obj = json::object();
  obj["id"] = id.value;
  if (!tube.empty()) obj["tube"] = std::string(tube);
  set_body(obj, body);
  return obj;
}

}  // namespace beanpole::cli
