// Value types: tube names (the protocol's naming rules) and job ids.
#include "beanpole/types.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <string_view>
#include <unordered_set>

#include "beanpole/error.hpp"

namespace beanpole {
namespace {

using namespace std::string_literals;

/// Every character the protocol allows in a name.
const std::string allowed_chars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-+/;.$_()";

/// Checks all three ways in agree on `name`: is_valid, make() and the throwing constructor.
void expect_valid(std::string_view name) {
  SCOPED_TRACE(testing::Message() << "name '" << name << "' (" << name.size() << " bytes)");
  EXPECT_TRUE(tube_name::is_valid(name));
  tube_name made;
  EXPECT_FALSE(tube_name::make(name, made));
  EXPECT_EQ(made.view(), name);
  EXPECT_NO_THROW({
    const tube_name constructed(name);
    EXPECT_EQ(constructed.str(), name);
  });
}

void expect_invalid(std::string_view name) {
  SCOPED_TRACE(testing::Message() << "name of " << name.size() << " bytes: '" << name << "'");
  EXPECT_FALSE(tube_name::is_valid(name));
  tube_name untouched("keep");
  EXPECT_EQ(tube_name::make(name, untouched), errc::invalid_tube_name);
  EXPECT_EQ(untouched.view(), "keep") << "make() must leave its output alone on error";
  try {
    const tube_name constructed(name);
    ADD_FAILURE() << "constructor accepted an invalid name";
  } catch (const error& e) {
    EXPECT_EQ(e.code(), errc::invalid_tube_name);
    EXPECT_EQ(e.code(), condition::local_misuse);
    EXPECT_FALSE(e.job());
  }
}

TEST(TubeName, DefaultIsDefault) {
  EXPECT_EQ(tube_name().str(), "default");
  EXPECT_EQ(tube_name(), tube_name("default"));
}

TEST(TubeName, EveryAllowedCharacter) {
  for (const char c : allowed_chars) {
    expect_valid("a"s + c);                         // anywhere after the first byte
    if (c != '-') expect_valid(std::string(1, c));  // and alone, except '-'
  }
  expect_valid("x" + allowed_chars);
}

TEST(TubeName, EveryOtherByteIsRefused) {
  for (int i = 0; i < 256; ++i) {
    const char c = static_cast<char>(i);
    if (allowed_chars.find(c) != std::string::npos) continue;
    expect_invalid(std::string(1, c));
    expect_invalid("a"s + c);
    expect_invalid("a"s + c + "b");
  }
}

TEST(TubeName, Length) {
  expect_valid("a");
  expect_valid(std::string(tube_name::max_size, 'a'));
  expect_invalid("");
  expect_invalid(std::string(tube_name::max_size + 1, 'a'));
  expect_invalid(std::string(1000, 'a'));
  EXPECT_EQ(tube_name::max_size, 200U);
}

TEST(TubeName, NamedDisallowedClasses) {
  expect_invalid("-");
  expect_invalid("-leading-hyphen");
  expect_invalid(" ");
  expect_invalid("with space");
  expect_invalid("trailing ");
  expect_invalid("tab\there");
  expect_invalid("line\r\n");
  expect_invalid("nul\0inside"s);
  expect_invalid("\0"s);
  expect_invalid("caf\xc3\xa9");  // UTF-8 is not ASCII
  expect_invalid("\x80");
  expect_invalid("\xff");
  expect_invalid("star*");
  expect_invalid("colon:");
  expect_invalid("quote\"");
  expect_invalid("back\\slash");
  expect_valid("trailing-hyphen-");
  expect_valid("(parens)$money;semi/slash+plus.dot_under");
}

TEST(TubeName, ConstructsFromEveryStringType) {
  const std::string s = "emails";
  EXPECT_EQ(tube_name(s).view(), "emails");
  EXPECT_EQ(tube_name("emails").view(), "emails");
  EXPECT_EQ(tube_name(std::string_view("emails")).view(), "emails");
  EXPECT_THROW(tube_name(std::string("bad name")), error);
  EXPECT_THROW(tube_name("bad name"), error);
}

TEST(TubeName, ExceptionMessageNamesTheTube) {
  try {
    const tube_name t("bad name");
    ADD_FAILURE();
  } catch (const error& e) {
    EXPECT_NE(std::string(e.what()).find("bad name"), std::string::npos) << e.what();
  }
  try {  // a long name is cut short in the message
    const tube_name t(std::string(500, '*'));
    ADD_FAILURE();
  } catch (const error& e) {
    EXPECT_LT(std::string(e.what()).size(), 400U) << e.what();
  }
}

TEST(TubeName, ValueSemantics) {
  const tube_name a("alpha");
  const tube_name b("beta");
  EXPECT_EQ(a, tube_name("alpha"));
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
  std::ostringstream os;
  os << a;
  EXPECT_EQ(os.str(), "alpha");
  const std::unordered_set<tube_name> set{a, b, tube_name("alpha")};
  EXPECT_EQ(set.size(), 2U);
  EXPECT_EQ(std::hash<tube_name>{}(a), std::hash<tube_name>{}(tube_name("alpha")));
}

TEST(JobId, ValueSemantics) {
  EXPECT_EQ(job_id{}.value, 0U);
  EXPECT_EQ(job_id{5}, job_id{5});
  EXPECT_NE(job_id{5}, job_id{6});
  EXPECT_LT(job_id{5}, job_id{6});
  EXPECT_GT(job_id{18446744073709551615U}, job_id{0});
  std::ostringstream os;
  os << job_id{18446744073709551615U};
  EXPECT_EQ(os.str(), "18446744073709551615");
  const std::unordered_set<job_id> set{job_id{1}, job_id{2}, job_id{1}};
  EXPECT_EQ(set.size(), 2U);
}

TEST(Job, Equality) {
  EXPECT_EQ((job{{1}, "body"}), (job{{1}, "body"}));
  EXPECT_NE((job{{1}, "body"}), (job{{2}, "body"}));
  EXPECT_NE((job{{1}, "body"}), (job{{1}, "body\0"s}));
  EXPECT_EQ(default_priority, 1024U);
}

}  // namespace
}  // namespace beanpole
