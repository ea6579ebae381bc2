// format_prometheus as a pure function: names, types, labels, escaping, a server that is down.
#include <gtest/gtest.h>

#include <string>

#include "beanpole/admin/exposition.hpp"

namespace beanpole {
namespace {

server_snapshot sample() {
  server_snapshot s;
  s.address = "127.0.0.1:11300";
  s.up = true;
  s.stats.current_jobs_ready = 3;
  s.stats.cmd_put = 17;
  s.stats.total_jobs = 20;
  s.stats.version = "1.12";
  s.stats.rusage_utime = 0.5;
  s.stats.other["new-count"] = "9";
  s.stats.other["new-text"] = "abc";
  proto::tube_stats t;
  t.name = "emails";
  t.current_jobs_ready = 2;
  t.total_jobs = 5;
  t.cmd_delete = 1;
  s.tubes.push_back(t);
  t.name = "odd\"name\\";
  t.current_jobs_ready = 1;
  s.tubes.push_back(t);
  return s;
}

bool has_line(const std::string& text, const std::string& line) {
  return ("\n" + text).find("\n" + line + "\n") != std::string::npos;
}

TEST(Exposition, ServerFieldsAreGaugesOrCountersWithTheServerLabel) {
  const std::string text = format_prometheus({sample()});
  EXPECT_TRUE(has_line(text, "# TYPE beanstalkd_up gauge")) << text;
  EXPECT_TRUE(has_line(text, "beanstalkd_up{server=\"127.0.0.1:11300\"} 1"));
  EXPECT_TRUE(has_line(text, "# TYPE beanstalkd_current_jobs_ready gauge"));
  EXPECT_TRUE(has_line(text, "beanstalkd_current_jobs_ready{server=\"127.0.0.1:11300\"} 3"));
  EXPECT_TRUE(has_line(text, "# TYPE beanstalkd_cmd_put counter"));
  EXPECT_TRUE(has_line(text, "beanstalkd_cmd_put{server=\"127.0.0.1:11300\"} 17"));
  EXPECT_TRUE(has_line(text, "# TYPE beanstalkd_total_jobs counter"));
  EXPECT_TRUE(has_line(text,
                       "# HELP beanstalkd_current_jobs_ready beanstalkd stats: "
                       "current-jobs-ready"));
  EXPECT_TRUE(has_line(text, "beanstalkd_new_count{server=\"127.0.0.1:11300\"} 9"));
  EXPECT_EQ(text.find("new_text"), std::string::npos);
  EXPECT_EQ(text.find("version"), std::string::npos) << "not an integer";
  EXPECT_EQ(text.find("rusage"), std::string::npos) << "not an integer";
}

TEST(Exposition, TubeFieldsCarryTheTubeLabelEscaped) {
  const std::string text = format_prometheus({sample()});
  EXPECT_TRUE(has_line(text, "# TYPE beanstalkd_tube_current_jobs_ready gauge"));
  EXPECT_TRUE(has_line(
      text, "beanstalkd_tube_current_jobs_ready{server=\"127.0.0.1:11300\",tube=\"emails\"} 2"));
  EXPECT_TRUE(has_line(text,
                       "beanstalkd_tube_current_jobs_ready{server=\"127.0.0.1:11300\","
                       "tube=\"odd\\\"name\\\\\"} 1"));
  EXPECT_TRUE(has_line(text, "# TYPE beanstalkd_tube_total_jobs counter"));
  EXPECT_TRUE(has_line(text, "# TYPE beanstalkd_tube_cmd_delete counter"));
  EXPECT_EQ(text.find("tube_name"), std::string::npos);
}

TEST(Exposition, OneHelpAndTypePerMetricAcrossServersAndADownServer) {
  auto down = server_snapshot{};
  down.address = "10.0.0.1:11300";
  const std::string text = format_prometheus({sample(), down, sample()});
  std::size_t types = 0;
  for (std::size_t at = 0; (at = text.find("# TYPE beanstalkd_up ", at)) != std::string::npos;
       ++at) {
    ++types;
  }
  EXPECT_EQ(types, 1u);
  EXPECT_TRUE(has_line(text, "beanstalkd_up{server=\"10.0.0.1:11300\"} 0"));
  // The samples of one metric sit together, right after its TYPE line.
  const auto type_at = text.find("# TYPE beanstalkd_cmd_put counter\n");
  const auto block = text.substr(type_at, text.find("# HELP", type_at) - type_at);
  EXPECT_EQ(block,
            "# TYPE beanstalkd_cmd_put counter\n"
            "beanstalkd_cmd_put{server=\"127.0.0.1:11300\"} 17\n"
            "beanstalkd_cmd_put{server=\"127.0.0.1:11300\"} 17\n");
}

TEST(Exposition, NothingToReport) {
  EXPECT_EQ(format_prometheus({}), "");
}

}  // namespace
}  // namespace beanpole
