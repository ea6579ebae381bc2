// Byte-exact input and output on file descriptors. Bodies are opaque bytes, so nothing here goes
// through iostreams' formatting, and every write is checked: a job is only deleted after its
// bytes were accepted by the kernel.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace beanpole::cli {

/// Writes all of `data` to `fd`; throws `command_failure` ("write to <what>: ...") on error.
void write_all(int fd, std::string_view data, std::string_view what);

/// Writes all of `data` to standard output (see `write_all`).
void write_stdout(std::string_view data);

/// Reads `fd` to end of file; throws `command_failure` on error.
std::string read_all(int fd, std::string_view what);

/// Reads `fd` line by line without loading all of it. A line is returned without its '\n'; a
/// last line without '\n' counts when it is not empty.
class line_reader {
 public:
  line_reader(int fd, std::string_view what) : fd_(fd), what_(what) {}

  /// The next line in `line`; false at end of input.
  bool next(std::string& line);
  /// Bytes consumed so far, newlines included.
  std::uint64_t bytes_read() const noexcept { return consumed_; }
  /// Whether `next` has a line without reading the file descriptor again (it is buffered).
  bool line_buffered() const noexcept {
    return buffer_.find('\n', begin_) != std::string::npos || (eof_ && begin_ < buffer_.size());
  }

 private:
  bool fill();

  int fd_;
  std::string what_;
  std::string buffer_;
  std::size_t begin_ = 0;
  bool eof_ = false;
  std::uint64_t consumed_ = 0;
};

/// An input or output file named on the command line ("-" or empty: the standard stream).
/// Closes what it opened.
class file_arg {
 public:
  enum class mode { read, write };
  file_arg(const std::string& path, mode m);
  ~file_arg();
  file_arg(const file_arg&) = delete;
  file_arg& operator=(const file_arg&) = delete;

  int fd() const noexcept { return fd_; }
  /// "stdin", "stdout" or the path, for messages.
  const std::string& name() const noexcept { return name_; }
  /// The size of a regular file, or 0 when unknown (a pipe, a terminal).
  std::uint64_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  std::string name_;
  std::uint64_t size_ = 0;
};

}  // namespace beanpole::cli
