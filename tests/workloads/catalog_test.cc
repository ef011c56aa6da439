#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <set>

#include "kernel_check.h"
#include "simtune/strings.h"
#include "simtune/workload.h"

namespace simtune {
namespace {

TEST(Catalog, HoldsTheRealLayerShapes) {
  auto catalog = LoadCatalog();
  ASSERT_TRUE(catalog.ok()) << catalog.message();
  std::map<std::string, std::string> by_name;
  for (const auto& e : *catalog) {
    EXPECT_TRUE(by_name.emplace(e.name, e.workload).second) << e.name;
    EXPECT_FALSE(e.description.empty()) << e.name;
    auto w = ParseWorkload(e.workload);
    ASSERT_TRUE(w.ok()) << w.message();
    EXPECT_EQ(w->Key(), e.workload) << "catalog workloads are stored in canonical form";
    auto space = MakeSpace(*w);
    ASSERT_TRUE(space.ok()) << space.message();
    EXPECT_FALSE((*space)->Sample(1, 1).empty()) << e.name;
  }
  EXPECT_EQ(by_name.at("resnet18.conv1"),
            "conv2d:N=1,C=3,H=224,W=224,K=64,R=7,S=7,stride=2,pad=3");
  EXPECT_EQ(by_name.at("resnet18.conv2_x"),
            "conv2d:N=1,C=64,H=56,W=56,K=64,R=3,S=3,stride=1,pad=1");
  EXPECT_EQ(by_name.at("resnet18.conv3_1"),
            "conv2d:N=1,C=64,H=56,W=56,K=128,R=3,S=3,stride=2,pad=1");
  EXPECT_EQ(by_name.at("resnet18.conv4_ds"),
            "conv2d:N=1,C=128,H=28,W=28,K=256,R=1,S=1,stride=2,pad=0");
  EXPECT_EQ(by_name.at("resnet18.conv5_x"),
            "conv2d:N=1,C=512,H=7,W=7,K=512,R=3,S=3,stride=1,pad=1");
  EXPECT_EQ(by_name.at("bert_base.qkv"), "gemm:M=128,N=768,K=768");
  EXPECT_EQ(by_name.at("bert_base.attn_out"), "gemm:M=128,N=768,K=768");
  EXPECT_EQ(by_name.at("bert_base.ffn_in"), "gemm:M=128,N=3072,K=768");
  EXPECT_EQ(by_name.at("bert_base.ffn_out"), "gemm:M=128,N=768,K=3072");
  int mobilenet_dw = 0, mobilenet_pw = 0, mvm = 0;
  for (const auto& [name, workload] : by_name) {
    if (StartsWith(name, "mobilenet_v2.") && StartsWith(workload, "dwconv2d:")) ++mobilenet_dw;
    if (StartsWith(name, "mobilenet_v2.") && workload.find("R=1,S=1") != std::string::npos)
      ++mobilenet_pw;
    if (StartsWith(workload, "mvm:")) ++mvm;
  }
  EXPECT_GE(mobilenet_dw, 4);
  EXPECT_GE(mobilenet_pw, 4);
  EXPECT_GE(mvm, 3);
}

// Points DataDir() at a scratch folder for one test.
class FakeDataDir {
 public:
  explicit FakeDataDir(const std::string& name) : dir_(testing_util::ScratchDir(name)) {
    std::filesystem::create_directories(dir_ / "catalog");
    setenv("SIMTUNE_DATA_DIR", dir_.c_str(), 1);
  }
  ~FakeDataDir() { unsetenv("SIMTUNE_DATA_DIR"); }
  void Write(const std::string& file, const std::string& text) {
    testing_util::WriteFile(dir_ / "catalog" / file, text);
  }
  std::string Path(const std::string& file) const { return (dir_ / "catalog" / file).string(); }

 private:
  std::filesystem::path dir_;
};

TEST(Catalog, RejectsBrokenFiles) {
  FakeDataDir data("fake_catalog");
  data.Write("a.json", R"({"entries": [{"name": "x.one", "workload": "mvm:M=4,K=4"}]})");
  auto ok = LoadCatalog();
  ASSERT_TRUE(ok.ok()) << ok.message();
  EXPECT_EQ(ok->size(), 1u);
  EXPECT_EQ(ParseWorkload("x.one")->catalog_name, "x.one");

  data.Write("b.json", R"({"entries": [{"name": "x.one", "workload": "mvm:M=8,K=8"}]})");
  EXPECT_EQ(LoadCatalog().message(),
            data.Path("b.json") + ": catalog entry 'x.one' already defined in a.json");
  EXPECT_EQ(ParseWorkload("x.one").message(),
            data.Path("b.json") + ": catalog entry 'x.one' already defined in a.json");

  data.Write("b.json", R"({"entries": [{"name": "x.two", "workload": "mvm:M=8", "size": 3}]})");
  EXPECT_EQ(LoadCatalog().message(),
            data.Path("b.json") + ": entries[0]: unknown key 'size'; valid: name, workload, "
                                  "description");
  data.Write("b.json", R"({"entries": [{"name": "x.two", "workload": "mvm:M=8"}]})");
  EXPECT_EQ(LoadCatalog().message(),
            data.Path("b.json") + ": x.two: workload 'mvm:M=8': missing shape parameter K");
  data.Write("b.json", R"({"entries": [{"name": "x.two", "workload": "x.one"}]})");
  EXPECT_EQ(LoadCatalog().message(),
            data.Path("b.json") + ": entries[0]: workload must be 'op:K=V,...'; got 'x.one'");
  data.Write("b.json", R"({"entries": [)");
  EXPECT_TRUE(StartsWith(LoadCatalog().message(), data.Path("b.json") + ": invalid JSON: "))
      << LoadCatalog().message();
}

}  // namespace
}  // namespace simtune
