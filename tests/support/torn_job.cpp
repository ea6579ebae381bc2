#include "torn_job.hpp"

#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>

namespace beanpole::testing {

void tear_job_body(beanstalkd_server& server, std::string_view body) {
  if (server.binlog_dir().empty())
    throw std::runtime_error("tear_job_body: the server has no binlog");
  server.kill();
  const std::string needle = std::string(body) + "\r\n";
  bool torn = false;
  for (const auto& entry : std::filesystem::directory_iterator(server.binlog_dir())) {
    if (entry.path().filename().string().rfind("binlog.", 0) != 0) continue;
    std::string bytes;
    {
      std::ifstream in(entry.path(), std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const auto at = bytes.find(needle);
    if (at == std::string::npos) continue;
    if (bytes.find(needle, at + 1) != std::string::npos) {
      throw std::runtime_error("tear_job_body: the body occurs more than once in the binlog");
    }
    // beanstalkd leaves its binlog files read-only.
    std::filesystem::permissions(entry.path(), std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
    std::fstream out(entry.path(), std::ios::binary | std::ios::in | std::ios::out);
    out.seekp(static_cast<std::streamoff>(at));
    out.write(std::string(needle.size(), '\0').data(), static_cast<std::streamsize>(needle.size()));
    if (!out) throw std::runtime_error("tear_job_body: cannot write " + entry.path().string());
    torn = true;
  }
  if (!torn) throw std::runtime_error("tear_job_body: the body is not in the binlog");
  server.restart();
}

}  // namespace beanpole::testing
