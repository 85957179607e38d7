// The architecture as a fact the suite checks: which src/ folder may include (and link) which. A folder may use
// only the folders listed for it here, all of them below it, so the graph has no cycle. docs/architecture.md
// explains the layers; this table is the one place they are written down.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace iotstream {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::set<std::string>>& Allowed() {
  static const std::map<std::string, std::set<std::string>> allowed{
      {"core", {}},
      {"http", {"core"}},
      {"ingest", {"core"}},
      {"store", {"core"}},
      {"motion", {"core"}},
      {"vision", {"core", "motion"}},
      {"exports", {"core"}},
      {"cluster", {"core", "store"}},
      {"auth", {"core", "store"}},
      {"live", {"core", "http"}},
      {"events", {"core", "ingest", "store", "motion", "vision"}},
      {"notify", {"core", "store", "events"}},
      {"api", {"core", "http", "ingest", "store", "motion", "vision", "exports", "cluster", "auth", "live", "events",
               "notify"}},
      {"app", {"core", "http", "ingest", "store", "motion", "vision", "exports", "cluster", "auth", "live", "events",
               "notify", "api"}},
  };
  return allowed;
}

struct Use {
  std::string from, to, where;  // where: "file:line" or "folder/CMakeLists.txt"
};

// Every use of one src/ folder by another: `#include "other/..."` in its sources and `iotstream_other` in its
// CMakeLists.txt. A folder the table does not know is reported as used by itself, so that it gets a row.
std::vector<Use> UsesUnder(const fs::path& src) {
  static const std::regex include(R"re(^\s*#\s*include\s+"([A-Za-z0-9_]+)/)re");
  static const std::regex link(R"(\biotstream_([a-z]+)\b)");
  std::vector<Use> uses;
  for (const auto& dir : fs::directory_iterator(src)) {
    if (!dir.is_directory()) continue;
    const std::string from = dir.path().filename().string();
    if (Allowed().count(from) == 0) uses.push_back({from, from, dir.path().string()});
    for (const auto& f : fs::recursive_directory_iterator(dir.path())) {
      const std::string name = f.path().filename().string();
      const std::string ext = f.path().extension().string();
      if (!f.is_regular_file()) continue;
      std::ifstream in(f.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n) {
        std::smatch m;
        if ((ext == ".h" || ext == ".cpp" || ext == ".in") && std::regex_search(line, m, include) &&
            m[1] != from && fs::is_directory(src / m[1].str())) {
          uses.push_back({from, m[1], f.path().string() + ":" + std::to_string(n)});
        }
        if (name == "CMakeLists.txt") {
          for (auto it = std::sregex_iterator(line.begin(), line.end(), link); it != std::sregex_iterator(); ++it) {
            const std::string to = (*it)[1];
            if (to != from && fs::is_directory(src / to)) uses.push_back({from, to, f.path().string()});
          }
        }
      }
    }
  }
  return uses;
}

// The uses the table does not allow, one line each.
std::vector<std::string> Violations(const fs::path& src) {
  std::vector<std::string> bad;
  for (const auto& u : UsesUnder(src)) {
    const auto row = Allowed().find(u.from);
    if (row == Allowed().end()) {
      bad.push_back("src/" + u.from + " is not in the layering table (" + u.where + ")");
    } else if (row->second.count(u.to) == 0) {
      bad.push_back(u.from + " -> " + u.to + " at " + u.where);
    }
  }
  return bad;
}

std::string Join(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

TEST(Layering, SrcUsesOnlyTheAllowedEdges) {
  const fs::path src = fs::path(IOTSTREAM_SOURCE_DIR) / "src";
  ASSERT_TRUE(fs::is_directory(src / "core")) << src;
  const auto bad = Violations(src);
  EXPECT_TRUE(bad.empty()) << "uses the architecture does not allow (tests/architecture/layering_test.cpp):\n"
                           << Join(bad);
}

TEST(Layering, TheTableIsADagFromCoreUp) {
  // Each folder may use only folders listed before it in this order: no cycle can pass the check above.
  const std::vector<std::string> order{"core", "http",   "ingest", "store", "motion", "vision", "exports",
                                       "cluster", "auth", "live",  "events", "notify", "api",    "app"};
  ASSERT_EQ(order.size(), Allowed().size());
  for (size_t i = 0; i < order.size(); ++i) {
    for (const auto& to : Allowed().at(order[i])) {
      const auto pos = std::find(order.begin(), order.end(), to) - order.begin();
      EXPECT_LT(static_cast<size_t>(pos), i) << order[i] << " may use " << to << ", which is not below it";
    }
  }
}

TEST(Layering, TheCheckCatchesAForbiddenIncludeAndLink) {
  testing::TempDir tmp;
  const fs::path src = tmp.path() / "src";
  fs::create_directories(src / "store");
  fs::create_directories(src / "http");
  fs::create_directories(src / "gateway");
  std::ofstream(src / "store" / "store.cpp") << "#include \"core/status.h\"\n#include \"http/http.h\"\n";
  std::ofstream(src / "store" / "CMakeLists.txt") << "target_link_libraries(iotstream_store PUBLIC iotstream_http)\n";
  std::ofstream(src / "http" / "http.h") << "#include <string>\n";
  const auto bad = Violations(src);
  ASSERT_EQ(bad.size(), 3u) << Join(bad);
  EXPECT_NE(Join(bad).find("src/gateway is not in the layering table"), std::string::npos) << Join(bad);
  EXPECT_NE(Join(bad).find("store -> http at " + (src / "store" / "store.cpp").string() + ":2"), std::string::npos)
      << Join(bad);
  EXPECT_NE(Join(bad).find("store -> http at " + (src / "store" / "CMakeLists.txt").string()), std::string::npos)
      << Join(bad);
}

}  // namespace
}  // namespace iotstream
