// Worker counters without sockets: histogram buckets and quantiles, the human table, the
// Prometheus text format.
#include <gtest/gtest.h>

#include <limits>
#include <sstream>

#include "beanpole/metrics.hpp"

namespace beanpole {
namespace {

using namespace std::chrono_literals;

TEST(worker_metrics_histogram, buckets_are_upper_bounds) {
  latency_histogram h;
  h.record(0ns);
  h.record(1ms);     // exactly on a bound: that bucket ("le")
  h.record(1500us);  // (0.001, 0.005]
  h.record(2s);      // (1, 2.5]
  h.record(1h);      // +Inf
  h.record(-5ms);    // counts as zero
  EXPECT_EQ(h.count, 6u);
  EXPECT_EQ(h.buckets[0], 3u);
  EXPECT_EQ(h.buckets[1], 1u);
  EXPECT_EQ(h.buckets[9], 1u);
  EXPECT_EQ(h.buckets.back(), 1u);
  EXPECT_NEAR(h.sum_seconds, 0.001 + 0.0015 + 2 + 3600, 1e-9);
}

TEST(worker_metrics_histogram, quantiles_and_sums) {
  latency_histogram h;
  EXPECT_EQ(h.quantile(0.5), 0.0);
  for (int i = 0; i < 98; ++i) h.record(3ms);
  h.record(200ms);
  h.record(10min);
  EXPECT_EQ(h.quantile(0.5), 0.005);
  EXPECT_EQ(h.quantile(0.98), 0.005);
  EXPECT_EQ(h.quantile(0.99), 0.25);
  EXPECT_EQ(h.quantile(1.0), std::numeric_limits<double>::infinity());
  latency_histogram sum = h;
  sum += h;
  EXPECT_EQ(sum.count, 200u);
  EXPECT_EQ(sum.buckets[1], 196u);
}

worker_metrics sample() {
  worker_metrics m;
  tube_metrics a;
  a.tube = "emails";
  a.reserved = 10;
  a.succeeded = 7;
  a.failed = 3;
  a.deleted = 7;
  a.retried = 2;
  a.buried = 1;
  a.touched = 4;
  a.in_flight = 1;
  a.latency.record(20ms);
  a.latency.record(3s);
  tube_metrics b;
  b.tube = "thumbs";
  b.reserved = 1;
  b.released = 1;
  b.lost = 1;
  b.abandoned = 1;
  m.tubes = {a, b};
  m.uptime = 12500ms;
  m.reconnects = 2;
  return m;
}

TEST(worker_metrics_snapshot, total_and_find) {
  const auto m = sample();
  const auto t = m.total();
  EXPECT_EQ(t.tube, "total");
  EXPECT_EQ(t.reserved, 11u);
  EXPECT_EQ(t.released, 1u);
  EXPECT_EQ(t.latency.count, 2u);
  ASSERT_NE(m.find("thumbs"), nullptr);
  EXPECT_EQ(m.find("thumbs")->lost, 1u);
  EXPECT_EQ(m.find("nope"), nullptr);
}

TEST(worker_metrics_format, human_table_has_a_line_per_tube_and_a_total) {
  const std::string text = format_metrics(sample());
  std::istringstream in(text);
  std::string header, emails, thumbs, total, footer;
  std::getline(in, header);
  std::getline(in, emails);
  std::getline(in, thumbs);
  std::getline(in, total);
  std::getline(in, footer);
  EXPECT_NE(header.find("reserved"), std::string::npos);
  EXPECT_NE(header.find("p99"), std::string::npos);
  EXPECT_EQ(emails.rfind("emails", 0), 0u) << emails;
  EXPECT_NE(emails.find("25ms"), std::string::npos) << "the median: its bucket's upper bound";
  EXPECT_EQ(thumbs.rfind("thumbs", 0), 0u) << thumbs;
  EXPECT_EQ(total.rfind("total", 0), 0u) << total;
  EXPECT_NE(total.find(" 11 "), std::string::npos) << total;
  EXPECT_NE(footer.find("12.5s"), std::string::npos) << footer;
  EXPECT_NE(footer.find("2 reconnects"), std::string::npos) << footer;
  EXPECT_EQ(text.back(), '\n');
}

TEST(worker_metrics_format, prometheus_text) {
  const std::string text = prometheus_text(sample());
  const auto has = [&](const std::string& line) {
    return text.find(line + "\n") != std::string::npos;
  };
  EXPECT_TRUE(has("# TYPE beanpole_worker_jobs_reserved_total counter"));
  EXPECT_TRUE(has("beanpole_worker_jobs_reserved_total{tube=\"emails\"} 10"));
  EXPECT_TRUE(has("beanpole_worker_jobs_reserved_total{tube=\"thumbs\"} 1"));
  EXPECT_TRUE(has("beanpole_worker_jobs_succeeded_total{tube=\"emails\"} 7"));
  EXPECT_TRUE(has("beanpole_worker_jobs_failed_total{tube=\"emails\"} 3"));
  EXPECT_TRUE(has("beanpole_worker_jobs_retried_total{tube=\"emails\"} 2"));
  EXPECT_TRUE(has("beanpole_worker_jobs_buried_total{tube=\"emails\"} 1"));
  EXPECT_TRUE(has("beanpole_worker_jobs_touched_total{tube=\"emails\"} 4"));
  EXPECT_TRUE(has("beanpole_worker_jobs_abandoned_total{tube=\"thumbs\"} 1"));
  EXPECT_TRUE(has("# TYPE beanpole_worker_jobs_in_flight gauge"));
  EXPECT_TRUE(has("beanpole_worker_jobs_in_flight{tube=\"emails\"} 1"));
  EXPECT_TRUE(has("# TYPE beanpole_worker_handler_duration_seconds histogram"));
  EXPECT_TRUE(
      has("beanpole_worker_handler_duration_seconds_bucket{tube=\"emails\",le=\"0.01\"} 0"));
  EXPECT_TRUE(
      has("beanpole_worker_handler_duration_seconds_bucket{tube=\"emails\",le=\"0.025\"} 1"));
  EXPECT_TRUE(has("beanpole_worker_handler_duration_seconds_bucket{tube=\"emails\",le=\"2.5\"} 1"));
  EXPECT_TRUE(has("beanpole_worker_handler_duration_seconds_bucket{tube=\"emails\",le=\"5\"} 2"));
  EXPECT_TRUE(
      has("beanpole_worker_handler_duration_seconds_bucket{tube=\"emails\",le=\"+Inf\"} 2"));
  EXPECT_TRUE(has("beanpole_worker_handler_duration_seconds_sum{tube=\"emails\"} 3.02"));
  EXPECT_TRUE(has("beanpole_worker_handler_duration_seconds_count{tube=\"emails\"} 2"));
  EXPECT_TRUE(has("beanpole_worker_uptime_seconds 12.5"));
  EXPECT_TRUE(has("beanpole_worker_reconnects_total 2"));
  // Every line is a comment or `name{labels} value`.
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    ASSERT_FALSE(line.empty());
    if (line[0] == '#') continue;
    EXPECT_EQ(line.rfind("beanpole_worker_", 0), 0u) << line;
    EXPECT_NE(line.find(' '), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace beanpole
