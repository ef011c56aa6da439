#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "../../src/workloads/int_expr.h"
#include "kernel_check.h"
#include "simtune/process.h"
#include "simtune/strings.h"
#include "simtune/workload.h"

namespace simtune {
namespace {

using workloads::IntExpr;

const std::string kExampleDir = std::string(SIMTUNE_TEST_SOURCE_DIR) + "/data/examples/custom_saxpy";

Result<int64_t> Eval(const std::string& text, const std::map<std::string, int64_t>& vars = {}) {
  std::vector<std::string> names;
  for (const auto& [name, value] : vars) names.push_back(name);
  auto expr = IntExpr::Parse(text, names);
  if (!expr.ok()) return expr.error();
  return expr->Eval(vars);
}

std::string ParseError(const std::string& text, const std::vector<std::string>& names) {
  auto expr = IntExpr::Parse(text, names);
  return expr.ok() ? "ok" : expr.message();
}

TEST(IntExpr, FollowsCPrecedenceAndSemantics) {
  EXPECT_EQ(*Eval("1 + 2 * 3 == 7"), 1);
  EXPECT_EQ(*Eval("-(2 - 5) * 2"), 6);
  EXPECT_EQ(*Eval("7 / 2"), 3);
  EXPECT_EQ(*Eval("-7 / 2"), -3);
  EXPECT_EQ(*Eval("-7 % 3"), -1);
  EXPECT_EQ(*Eval("2 < 3 && 3 <= 3 && 4 > 3 && 4 >= 5 || 1 != 1"), 0);
  EXPECT_EQ(*Eval("!0 + !5"), 1);
  EXPECT_EQ(*Eval("1 || 1 / 0"), 1);   // short-circuit: no division
  EXPECT_EQ(*Eval("0 && 1 / 0"), 0);
  EXPECT_EQ(*Eval("BLOCK * UNROLL <= 64", {{"BLOCK", 16}, {"UNROLL", 4}}), 1);
  EXPECT_EQ(*Eval("N % (BLOCK * UNROLL)", {{"BLOCK", 16}, {"UNROLL", 3}, {"N", 100}}), 4);
  EXPECT_EQ(*Eval("(1 && 2) + (0 || 0) + (0 || 3) + (4 && 0)"), 2);
  EXPECT_EQ(*Eval("1 && 1 && 0 || 1 && 1"), 1);
  EXPECT_EQ(*Eval("(-9223372036854775807 - 1) % -1 + 5 % -3"), 2);
}

TEST(IntExpr, EvaluationErrorsNameTheSubexpression) {
  EXPECT_EQ(Eval("1 / (2 - 2)").message(), "division by zero in '1 / (2 - 2)'");
  EXPECT_EQ(Eval("N % B == 0", {{"N", 8}, {"B", 0}}).message(), "modulo by zero in 'N % B'");
  EXPECT_EQ(Eval("1 + N / (B * 2) > 3", {{"N", 8}, {"B", 0}}).message(),
            "division by zero in 'N / (B * 2)'");
  EXPECT_EQ(Eval("1 && 7 % 0").message(), "modulo by zero in '7 % 0'");
  EXPECT_EQ(Eval("9223372036854775807 + 1").message(),
            "integer overflow in '9223372036854775807 + 1'");
  EXPECT_EQ(Eval("-9223372036854775807 - 1 - 1").message(),
            "integer overflow in '-9223372036854775807 - 1 - 1'");
  EXPECT_EQ(Eval("(-9223372036854775807 - 1) / -1").message(),
            "integer overflow in '(-9223372036854775807 - 1) / -1'");
  EXPECT_EQ(Eval("-(-9223372036854775807 - 1)").message(),
            "integer overflow in '-(-9223372036854775807 - 1)'");
}

// Long chains used to recurse once per term in evaluation (a stack overflow at ~60k terms):
// now neither the parser nor the evaluator recurses per term.
TEST(IntExpr, LongChainsNeedNoDeepStack) {
  const int kTerms = 60000;   // the size that overflowed the stack
  std::string sum = "B", all = "B > 0", any = "B < 0", product = "B";
  for (int i = 1; i < kTerms; ++i) {
    sum += " + B";
    all += " && B > 0";
    any += " || B < 0";
    product += " * 1";
  }
  EXPECT_EQ(*Eval(sum, {{"B", 1}}), kTerms);
  EXPECT_EQ(*Eval(all, {{"B", 1}}), 1);
  EXPECT_EQ(*Eval(all, {{"B", 0}}), 0);
  EXPECT_EQ(*Eval(any, {{"B", 1}}), 0);
  EXPECT_EQ(*Eval(product, {{"B", 3}}), 3);
  EXPECT_EQ(Eval(sum + " / 0", {{"B", 1}}).message(), "division by zero in 'B / 0'");
  // Nesting is what still recurses; it is bounded with an error.
  EXPECT_EQ(ParseError(std::string(kTerms, '-') + "1", {}), "column 102: expression nested too deeply");
}

TEST(IntExpr, ParseErrorsGiveTheColumn) {
  const std::vector<std::string> names = {"BLOCK", "UNROLL"};
  EXPECT_EQ(ParseError("BLOCK *", names), "column 8: expected a number, a name or '('; got end of text");
  EXPECT_EQ(ParseError("BLOK > 1", names),
            "column 1: unknown name 'BLOK'; did you mean 'BLOCK'? valid: BLOCK, UNROLL");
  EXPECT_EQ(ParseError("BLOCK = 1", names), "column 7: unexpected '='; did you mean '=='?");
  EXPECT_EQ(ParseError("(1 + 2", names), "column 7: expected ')'; got end of text");
  EXPECT_EQ(ParseError("1 2", names), "column 3: expected an operator or the end; got '2'");
  EXPECT_EQ(ParseError("3x", names), "column 1: number: expected an integer; got '3x'");
  EXPECT_EQ(ParseError(std::string(300, '(') + "1" + std::string(300, ')'), names),
            "column 102: expression nested too deeply");
}

TEST(Custom, ExampleSpecMakesASpaceAndKernels) {
  const std::string spec = kExampleDir + "/spec.json";
  auto w = ParseWorkload("custom:spec=" + spec);
  ASSERT_TRUE(w.ok()) << w.message();
  EXPECT_EQ(w->op, "custom");
  EXPECT_EQ(w->spec_path, spec);
  ASSERT_EQ(w->content_hash.size(), 16u);
  EXPECT_EQ(w->Key(), "custom:" + spec + "#" + w->content_hash);
  EXPECT_EQ(ParseWorkload(w->Key())->Key(), w->Key());

  auto space = MakeSpace(*w);
  ASSERT_TRUE(space.ok()) << space.message();
  ASSERT_EQ((*space)->knobs().size(), 2u);
  EXPECT_EQ((*space)->knobs()[0].name, "BLOCK");
  EXPECT_EQ((*space)->knobs()[1].values, (std::vector<int64_t>{1, 2, 4}));
  EXPECT_EQ((*space)->RawSize(), 12u);
  EXPECT_EQ((*space)->ValidSize(), 11u);
  EXPECT_EQ((*space)->ParseConfig("BLOCK=64,UNROLL=4").message(),
            "restriction 'BLOCK * UNROLL <= 128' is false with BLOCK=64, UNROLL=4");

  auto src = GenerateKernel(*w, {{"BLOCK", 16}, {"UNROLL", 2}}, CodegenContext{"x86_64"});
  ASSERT_TRUE(src.ok()) << src.message();
  EXPECT_EQ(src->extra_cflags, (std::vector<std::string>{"-DBLOCK=16", "-DUNROLL=2", "-DN=4096"}));
  std::ifstream kernel(kExampleDir + "/kernel.c");
  std::stringstream kernel_text;
  kernel_text << kernel.rdbuf();
  EXPECT_EQ(src->code, kernel_text.str());
  EXPECT_NE(src->reference_code.find("simtune_reference"), std::string::npos);
  ASSERT_EQ(src->buffers.size(), 3u);
  EXPECT_EQ(src->buffers[2].name, "out");
  EXPECT_TRUE(src->buffers[2].output);
  EXPECT_FALSE(src->buffers[0].output);
  EXPECT_EQ(src->buffers[0].elements, 4096);
  EXPECT_DOUBLE_EQ(src->rel_tol, 1e-6);
  EXPECT_DOUBLE_EQ(src->flops, 8192);
}

// Every valid config of the example compiles with its -D flags and matches the reference.
TEST(Custom, ExampleKernelsAreCorrect) {
  ASSERT_TRUE(ProgramExists("gcc")) << "gcc not found on PATH; scripts/setup installs it";
  auto w = ParseWorkload("custom:spec=" + kExampleDir + "/spec.json");
  ASSERT_TRUE(w.ok()) << w.message();
  auto space = MakeSpace(*w);
  ASSERT_TRUE(space.ok());
  std::vector<Config> configs;
  (*space)->Enumerate([&](const Config& c) {
    configs.push_back(c);
    return true;
  });
  std::vector<KernelSource> sources = testing_util::GenerateAll(*w, configs);
  ASSERT_EQ(sources.size(), 11u);
  const auto dir = testing_util::ScratchDir("custom_example");
  std::vector<std::string> objects;
  auto compile = [&](const std::string& name, const std::string& code,
                     std::vector<std::string> flags) {
    testing_util::WriteFile(dir / (name + ".c"), code);
    std::vector<std::string> argv = {"gcc", "-O2", "-std=c99", "-Wall", "-Werror", "-c",
                                     (dir / (name + ".c")).string(), "-o",
                                     (dir / (name + ".o")).string()};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto r = RunProcess(argv);
    ASSERT_TRUE(r.ok()) << r.message();
    ASSERT_TRUE(r->Success()) << name << ": " << r->err;
    objects.push_back((dir / (name + ".o")).string());
  };
  for (size_t i = 0; i < sources.size(); ++i) {
    std::vector<std::string> flags = sources[i].extra_cflags;
    flags.push_back("-Dsimtune_kernel=kernel_" + std::to_string(i));
    compile("kernel_" + std::to_string(i), sources[i].code, flags);
  }
  compile("reference", sources[0].reference_code, sources[0].extra_cflags);
  compile("main", testing_util::MainProgram(sources), {});
  std::vector<std::string> link = {"gcc", "-o", (dir / "check").string()};
  link.insert(link.end(), objects.begin(), objects.end());
  link.push_back("-lm");
  auto linked = RunProcess(link);
  ASSERT_TRUE(linked.ok() && linked->Success()) << (linked.ok() ? linked->err : linked.message());
  auto ran = RunProcess({(dir / "check").string()});
  ASSERT_TRUE(ran.ok());
  EXPECT_TRUE(ran->Success()) << ran->out;
}

// A custom workload is its content, not the path as typed (issue 16 item 3, issue 14 friction 1).
TEST(Custom, IdentityIsTheContentAndTheAbsolutePath) {
  const auto dir = testing_util::ScratchDir("custom_identity");
  const std::string spec_text =
      R"({"name": "zero", "source": "k.c", "reference": "r.c",
          "buffers": [{"name": "y", "elements": 4, "output": true}],
          "params": {"U": [1, 2]}})";
  testing_util::WriteFile(dir / "spec.json", spec_text);
  testing_util::WriteFile(dir / "k.c", "void simtune_kernel(float *const *b) { b[0][0] = 0; }\n");
  testing_util::WriteFile(dir / "r.c", "void simtune_reference(float *const *b) { b[0][0] = 0; }\n");
  auto absolute = ParseWorkload("custom:spec=" + (dir / "spec.json").string());
  ASSERT_TRUE(absolute.ok()) << absolute.message();

  // The same file spelled relative to another folder maps to the same key.
  auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.parent_path());
  auto relative = ParseWorkload("custom:spec=./" + dir.filename().string() + "/../" +
                                dir.filename().string() + "/spec.json");
  std::filesystem::current_path(cwd);
  ASSERT_TRUE(relative.ok()) << relative.message();
  EXPECT_EQ(relative->Key(), absolute->Key());

  // Editing the kernel makes another workload; the stored key then names the change.
  std::string stored_key = absolute->Key();
  testing_util::WriteFile(dir / "k.c", "void simtune_kernel(float *const *b) { b[0][0] = 1; }\n");
  auto edited = ParseWorkload("custom:spec=" + (dir / "spec.json").string());
  ASSERT_TRUE(edited.ok()) << edited.message();
  EXPECT_NE(edited->Key(), stored_key);
  auto stale = ParseWorkload(stored_key);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.message(),
            "workload '" + stored_key +
                "': the spec, kernel or reference changed since this workload was stored (content " +
                absolute->content_hash + ", now " + edited->content_hash +
                "); the edited kernel is the workload " + edited->Key());

  // So does editing the spec (a shape in it), and editing it back restores the identity.
  testing_util::WriteFile(dir / "k.c", "void simtune_kernel(float *const *b) { b[0][0] = 0; }\n");
  EXPECT_EQ(ParseWorkload(stored_key)->Key(), stored_key);
  std::string bigger = spec_text;
  bigger.replace(bigger.find("\"elements\": 4"), 13, "\"elements\": 8");
  testing_util::WriteFile(dir / "spec.json", bigger);
  auto resized = ParseWorkload("custom:spec=" + (dir / "spec.json").string());
  ASSERT_TRUE(resized.ok()) << resized.message();
  EXPECT_NE(resized->Key(), stored_key);
}

class SpecFile {
 public:
  explicit SpecFile(const std::string& name) : dir_(testing_util::ScratchDir(name)) {
    testing_util::WriteFile(dir_ / "k.c", "void simtune_kernel(float *const *b) { (void)b; }\n");
    testing_util::WriteFile(dir_ / "r.c", "void simtune_reference(float *const *b) { (void)b; }\n");
  }
  // Writes spec.json and returns ParseWorkload's error message ("ok" on success).
  std::string Error(const std::string& json) {
    testing_util::WriteFile(dir_ / "spec.json", json);
    auto w = ParseWorkload("custom:spec=" + Path());
    return w.ok() ? "ok" : w.message();
  }
  std::string Path() const { return (dir_ / "spec.json").string(); }

 private:
  std::filesystem::path dir_;
};

TEST(Custom, SpecErrorsNameTheProblem) {
  SpecFile spec("custom_errors");
  const std::string head = R"("name": "t", "source": "k.c", "reference": "r.c", )";
  const std::string buffers = R"("buffers": [{"name": "a", "elements": 4}, {"name": "b", "elements": 4, "output": true}])";
  const std::string where = "workload 'custom:spec=" + spec.Path() + "': " + spec.Path() + ": ";
  EXPECT_EQ(spec.Error("{" + head + buffers + "}"), "ok");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "params": {"B": [1, 2]}, "restrictions": ["B > 1"]})"),
            "ok");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "sourc": 1})"),
            where + "unknown key 'sourc'; did you mean 'source'? valid: name, source, reference, "
                    "buffers, params, restrictions, defines, tolerance, flops");
  EXPECT_EQ(spec.Error(R"({"name": "t", "source": "k.c", "reference": "r.c"})"),
            where + "missing key 'buffers'");
  EXPECT_EQ(spec.Error(R"({"name": "t", "source": "nope.c", "reference": "r.c", )" + buffers + "}"),
            where + "source: cannot read " +
                (std::filesystem::path(spec.Path()).parent_path() / "nope.c").string());
  EXPECT_EQ(spec.Error("{" + head + R"("buffers": [{"name": "a", "elements": 4}]})"),
            where + "buffers: no buffer has \"output\": true");
  EXPECT_EQ(spec.Error("{" + head + R"("buffers": [{"name": "a", "elements": 0, "output": true}]})"),
            where + "buffers[0].elements: expected 1 to 67108864; got 0");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "params": {"B": [1, 1]}})"),
            where + "params.B: value 1 listed twice");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "params": {"B": []}})"),
            where + "params.B: expected a non-empty list of integers; got []");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "params": {"B-1": [1]}})"),
            where + "params: 'B-1' is not a C identifier");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "params": {"B": [1]}, "defines": {"B": 2}})"),
            where + "defines: 'B' is also a param");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "params": {"B": [1]}, "restrictions": ["C > 1"]})"),
            where + "restrictions[0] 'C > 1': column 1: unknown name 'C'; did you mean 'B'? valid: B");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "params": {"B": [1, 2]}, "restrictions": ["B > 2"]})"),
            "workload 'custom:spec=" + spec.Path() + "': " + spec.Path() +
                ": restrictions reject every combination of params; e.g. restriction 'B > 2' is "
                "false with B=1");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "tolerance": {"rel": -1}})"),
            where + "tolerance.rel: expected a number >= 0; got -1");
  EXPECT_EQ(spec.Error("{" + head + buffers + R"(, "tolerance": {"relative": 1}})"),
            where + "tolerance: unknown key 'relative'; valid: rel, abs");
  EXPECT_TRUE(StartsWith(spec.Error("{"), where + "invalid JSON: ")) << spec.Error("{");
}

TEST(Custom, RestrictionErrorsAreRejectionReasons) {
  SpecFile spec("custom_division");
  ASSERT_EQ(spec.Error(R"({"name": "t", "source": "k.c", "reference": "r.c",
      "buffers": [{"name": "a", "elements": 4, "output": true}],
      "params": {"B": [0, 2, 4]}, "defines": {"N": 8}, "restrictions": ["N % B == 0"]})"),
            "ok");
  auto w = ParseWorkload("custom:spec=" + spec.Path());
  ASSERT_TRUE(w.ok());
  auto space = MakeSpace(*w);
  ASSERT_TRUE(space.ok());
  EXPECT_EQ((*space)->Reject({{"B", 0}}),
            "restriction 'N % B == 0': modulo by zero in 'N % B' with N=8, B=0");
  EXPECT_EQ((*space)->Reject({{"B", 4}}), "");
  EXPECT_EQ((*space)->ValidSize(), 2u);

  // When no combination is left, the reason is given, an evaluation error first.
  const std::string head = R"({"name": "t", "source": "k.c", "reference": "r.c",
      "buffers": [{"name": "a", "elements": 4, "output": true}], "defines": {"N": 8}, )";
  EXPECT_EQ(spec.Error(head + R"("params": {"B": [0]}, "restrictions": ["N / B > 1"]})"),
            "workload 'custom:spec=" + spec.Path() + "': " + spec.Path() +
                ": restrictions reject every combination of params; e.g. restriction 'N / B > 1': "
                "division by zero in 'N / B' with N=8, B=0");
  EXPECT_EQ(spec.Error(head + R"("params": {"B": [3, 0]}, "restrictions": ["N % B == 0"]})"),
            "workload 'custom:spec=" + spec.Path() + "': " + spec.Path() +
                ": restrictions reject every combination of params; e.g. restriction 'N % B == 0': "
                "modulo by zero in 'N % B' with N=8, B=0");
}

}  // namespace
}  // namespace simtune
