// Worker counters: the histogram, the human table and the Prometheus text format.
#include "beanpole/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>

namespace beanpole {
namespace {

/// A double in the shortest form that reads back the same ("0.25", "1e-05", "+Inf").
std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc{}) return "0";
  return std::string(buf, end);
}

/// A run time for humans: "-", "850us", "12ms", "1.5s".
std::string duration_text(double seconds) {
  if (seconds <= 0) return "-";
  if (std::isinf(seconds)) return ">300s";
  char buf[32];
  if (seconds < 0.001) {
    std::snprintf(buf, sizeof buf, "%.0fus", seconds * 1e6);
  } else if (seconds < 1) {
    std::snprintf(buf, sizeof buf, "%.0fms", seconds * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.3gs", seconds);
  }
  return buf;
}

/// A label value with Prometheus escapes (backslash, double quote, newline).
std::string label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (const char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

struct counter_field {
  const char* name;
  const char* help;
  std::uint64_t tube_metrics::*field;
};

constexpr counter_field counter_fields[] = {
    {"reserved", "Jobs reserved.", &tube_metrics::reserved},
    {"succeeded", "Handlers that succeeded.", &tube_metrics::succeeded},
    {"failed", "Handlers that threw or called fail().", &tube_metrics::failed},
    {"deleted", "Jobs deleted.", &tube_metrics::deleted},
    {"retried", "Failed jobs released with a backoff delay.", &tube_metrics::retried},
    {"buried", "Jobs buried.", &tube_metrics::buried},
    {"released", "Jobs released for another reason than a retry.", &tube_metrics::released},
    {"touched", "Successful touch commands.", &tube_metrics::touched},
    {"lost", "Reservations lost (connection dropped, TTR ran out, NOT_FOUND).",
     &tube_metrics::lost},
    {"abandoned", "Handlers still running at the end of the grace period.",
     &tube_metrics::abandoned},
};

}  // namespace

void latency_histogram::record(std::chrono::nanoseconds d) noexcept {
  const double s = std::max(0.0, std::chrono::duration<double>(d).count());
  const auto it = std::lower_bound(bounds.begin(), bounds.end(), s);
  ++buckets[static_cast<std::size_t>(it - bounds.begin())];
  ++count;
  sum_seconds += s;
}

double latency_histogram::quantile(double q) const noexcept {
  if (count == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the quantile, 1-based: the smallest k with k >= q * count.
  const auto rank = std::max<std::uint64_t>(
      1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= rank) {
      return i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
    }
  }
  return std::numeric_limits<double>::infinity();
}

latency_histogram& latency_histogram::operator+=(const latency_histogram& other) noexcept {
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
  count += other.count;
  sum_seconds += other.sum_seconds;
  return *this;
}

tube_metrics& tube_metrics::operator+=(const tube_metrics& other) noexcept {
  for (const auto& f : counter_fields) this->*f.field += other.*f.field;
  in_flight += other.in_flight;
  latency += other.latency;
  return *this;
}

tube_metrics worker_metrics::total() const {
  tube_metrics sum;
  sum.tube = "total";
  for (const auto& t : tubes) sum += t;
  return sum;
}

const tube_metrics* worker_metrics::find(std::string_view tube) const noexcept {
  for (const auto& t : tubes) {
    if (t.tube == tube) return &t;
  }
  return nullptr;
}

std::string format_metrics(const worker_metrics& m) {
  std::vector<tube_metrics> rows = m.tubes;
  if (rows.size() != 1) rows.push_back(m.total());
  std::size_t width = 4;
  for (const auto& r : rows) width = std::max(width, r.tube.size());
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s %9s %9s %7s %8s %8s %7s %8s %8s %5s %9s %8s %8s %8s\n",
                static_cast<int>(width), "tube", "reserved", "succeeded", "failed", "deleted",
                "retried", "buried", "released", "touched", "lost", "abandoned", "running", "p50",
                "p99");
  out += line;
  for (const auto& r : rows) {
    std::snprintf(
        line, sizeof line,
        "%-*s %9llu %9llu %7llu %8llu %8llu %7llu %8llu %8llu %5llu %9llu %8llu %8s "
        "%8s\n",
        static_cast<int>(width), r.tube.c_str(), static_cast<unsigned long long>(r.reserved),
        static_cast<unsigned long long>(r.succeeded), static_cast<unsigned long long>(r.failed),
        static_cast<unsigned long long>(r.deleted), static_cast<unsigned long long>(r.retried),
        static_cast<unsigned long long>(r.buried), static_cast<unsigned long long>(r.released),
        static_cast<unsigned long long>(r.touched), static_cast<unsigned long long>(r.lost),
        static_cast<unsigned long long>(r.abandoned), static_cast<unsigned long long>(r.in_flight),
        duration_text(r.latency.quantile(0.5)).c_str(),
        duration_text(r.latency.quantile(0.99)).c_str());
    out += line;
  }
  std::snprintf(line, sizeof line, "uptime %.1fs, %llu reconnects\n",
                static_cast<double>(m.uptime.count()) / 1000.0,
                static_cast<unsigned long long>(m.reconnects));
  out += line;
  return out;
}

std::string prometheus_text(const worker_metrics& m) {
  std::string out;
  const auto sample = [&](std::string_view name, std::string_view labels, const std::string& v) {
    out += name;
    if (!labels.empty()) {
      out += '{';
      out += labels;
      out += '}';
    }
    out += ' ';
    out += v;
    out += '\n';
  };
  const auto header = [&](const std::string& name, std::string_view help, std::string_view type) {
    out += "# HELP " + name + ' ';
    out += help;
    out += "\n# TYPE " + name + ' ';
    out += type;
    out += '\n';
  };
  for (const auto& f : counter_fields) {
    const std::string name = std::string("beanpole_worker_jobs_") + f.name + "_total";
    header(name, f.help, "counter");
    for (const auto& t : m.tubes) {
      sample(name, "tube=\"" + label(t.tube) + '"', std::to_string(t.*f.field));
    }
  }
  header("beanpole_worker_jobs_in_flight", "Handlers running now.", "gauge");
  for (const auto& t : m.tubes) {
    sample("beanpole_worker_jobs_in_flight", "tube=\"" + label(t.tube) + '"',
           std::to_string(t.in_flight));
  }
  const std::string hist = "beanpole_worker_handler_duration_seconds";
  header(hist, "Run time of the handlers that finished.", "histogram");
  for (const auto& t : m.tubes) {
    const std::string tube = "tube=\"" + label(t.tube) + '"';
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < t.latency.buckets.size(); ++i) {
      cumulative += t.latency.buckets[i];
      const std::string le = i < latency_histogram::bounds.size()
                                 ? number(latency_histogram::bounds[i])
                                 : std::string("+Inf");
      sample(hist + "_bucket", tube + ",le=\"" + le + '"', std::to_string(cumulative));
    }
    sample(hist + "_sum", tube, number(t.latency.sum_seconds));
    sample(hist + "_count", tube, std::to_string(t.latency.count));
  }
  header("beanpole_worker_uptime_seconds", "Time since the worker started running.", "gauge");
  sample("beanpole_worker_uptime_seconds", {},
         number(static_cast<double>(m.uptime.count()) / 1000.0));
  header("beanpole_worker_reconnects_total", "Times the main connection was re-established.",
         "counter");
  sample("beanpole_worker_reconnects_total", {}, std::to_string(m.reconnects));
  return out;
}

}  // namespace beanpole
