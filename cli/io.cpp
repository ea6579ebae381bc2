#include "io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "errors.hpp"

namespace beanpole::cli {

void write_all(int fd, std::string_view data, std::string_view what) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(std::string("write to ") + std::string(what));
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

void write_stdout(std::string_view data) {
  write_all(STDOUT_FILENO, data, "stdout");
}

std::string read_all(int fd, std::string_view what) {
  std::string data;
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno(std::string("read from ") + std::string(what));
    }
    if (n == 0) return data;
    data.append(chunk, static_cast<std::size_t>(n));
  }
}

bool line_reader::fill() {
  if (eof_) return false;
  if (begin_ > 0) {
    buffer_.erase(0, begin_);
    begin_ = 0;
  }
  char chunk[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd_, chunk, sizeof chunk);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("read from " + what_);
    }
    if (n == 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }
}

bool line_reader::next(std::string& line) {
  std::size_t searched = begin_;
  for (;;) {
    const auto nl = buffer_.find('\n', searched);
    if (nl != std::string::npos) {
      line.assign(buffer_, begin_, nl - begin_);
      consumed_ += nl + 1 - begin_;
      begin_ = nl + 1;
      return true;
    }
    searched = buffer_.size() - begin_;  // offsets move when fill() compacts the buffer
    if (!fill()) break;
  }
  if (begin_ >= buffer_.size()) return false;
  line.assign(buffer_, begin_);
  consumed_ += buffer_.size() - begin_;
  begin_ = buffer_.size();
  return true;
}

file_arg::file_arg(const std::string& path, mode m) {
  if (path.empty() || path == "-") {
    fd_ = m == mode::read ? STDIN_FILENO : STDOUT_FILENO;
    name_ = m == mode::read ? "stdin" : "stdout";
  } else {
    fd_ = m == mode::read ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC)
                          : ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd_ < 0) throw_errno("open " + path);
    owned_ = true;
    name_ = path;
  }
  struct stat st {};
  if (m == mode::read && ::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode)) {
    size_ = static_cast<std::uint64_t>(st.st_size);
  }
}

file_arg::~file_arg() {
  if (owned_) ::close(fd_);
}

}  // namespace beanpole::cli
