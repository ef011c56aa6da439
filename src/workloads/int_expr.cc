#include "int_expr.h"

#include <algorithm>
#include <cctype>
#include <limits>

#include "simtune/strings.h"

namespace simtune::workloads {

namespace {

struct Token {
  enum Kind { kNumber, kName, kSymbol, kEnd } kind;
  std::string text;
  size_t column;  // 1-based
};

Result<std::vector<Token>> Tokenize(const std::string& text) {
  static const std::vector<std::string> kSymbols = {"&&", "||", "==", "!=", "<=", ">=", "<",
                                                    ">",  "+",  "-",  "*",  "/",  "%",  "!",
                                                    "(",  ")"};
  std::vector<Token> out;
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char ch = static_cast<unsigned char>(text[i]);
    if (std::isspace(ch)) {
      ++i;
      continue;
    }
    const size_t start = i;
    if (std::isdigit(ch)) {
      while (i < text.size() && std::isalnum(static_cast<unsigned char>(text[i]))) ++i;
      out.push_back({Token::kNumber, text.substr(start, i - start), start + 1});
      continue;
    }
    if (std::isalpha(ch) || ch == '_') {
      while (i < text.size() &&
             (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_'))
        ++i;
      out.push_back({Token::kName, text.substr(start, i - start), start + 1});
      continue;
    }
    bool matched = false;
    for (const auto& sym : kSymbols) {
      if (text.compare(i, sym.size(), sym) == 0) {
        out.push_back({Token::kSymbol, sym, start + 1});
        i += sym.size();
        matched = true;
        break;
      }
    }
    if (!matched) {
      std::string msg = "column " + std::to_string(start + 1) + ": unexpected '" +
                        std::string(1, text[i]) + "'";
      if (text[i] == '=') msg += "; did you mean '=='?";
      if (text[i] == '&') msg += "; did you mean '&&'?";
      if (text[i] == '|') msg += "; did you mean '||'?";
      return Error{msg};
    }
  }
  out.push_back({Token::kEnd, "", text.size() + 1});
  return out;
}

std::string Describe(const Token& t) {
  return t.kind == Token::kEnd ? "end of text" : "'" + t.text + "'";
}

constexpr int kMaxDepth = 100;

}  // namespace

class IntExprParser {
 public:
  IntExprParser(IntExpr& expr, std::vector<Token> tokens, const std::vector<std::string>& names)
      : expr_(expr), tokens_(std::move(tokens)), names_(names) {}

  Status Run() {
    auto root = Or(0);
    if (!root.ok()) return root.error();
    if (Peek().kind != Token::kEnd)
      return Error{At(Peek()) + "expected an operator or the end; got " + Describe(Peek())};
    expr_.root_ = *root;
    return Status::Ok();
  }

 private:
  using Op = IntExpr::Op;

  const Token& Peek() const { return tokens_[pos_]; }
  bool Accept(const char* symbol) {
    if (Peek().kind == Token::kSymbol && Peek().text == symbol) {
      ++pos_;
      return true;
    }
    return false;
  }
  static std::string At(const Token& t) { return "column " + std::to_string(t.column) + ": "; }

  int Add(IntExpr::Node node) {
    expr_.nodes_.push_back(std::move(node));
    return static_cast<int>(expr_.nodes_.size()) - 1;
  }

  // One left-associative binary level: `next` parses the operands, `ops` maps symbols to ops.
  template <class Next>
  Result<int> Binary(int depth, Next next, const std::vector<std::pair<const char*, Op>>& ops) {
    auto lhs = (this->*next)(depth);
    if (!lhs.ok()) return lhs;
    int node = *lhs;
    while (true) {
      bool found = false;
      for (const auto& [symbol, op] : ops) {
        if (Accept(symbol)) {
          auto rhs = (this->*next)(depth);
          if (!rhs.ok()) return rhs;
          node = Add({op, 0, "", node, *rhs});
          found = true;
          break;
        }
      }
      if (!found) return node;
    }
  }

  Result<int> Or(int depth) { return Binary(depth, &IntExprParser::And, {{"||", Op::kOr}}); }
  Result<int> And(int depth) { return Binary(depth, &IntExprParser::Eq, {{"&&", Op::kAnd}}); }
  Result<int> Eq(int depth) {
    return Binary(depth, &IntExprParser::Rel, {{"==", Op::kEq}, {"!=", Op::kNe}});
  }
  Result<int> Rel(int depth) {
    return Binary(depth, &IntExprParser::Sum,
                  {{"<=", Op::kLe}, {">=", Op::kGe}, {"<", Op::kLt}, {">", Op::kGt}});
  }
  Result<int> Sum(int depth) {
    return Binary(depth, &IntExprParser::Product, {{"+", Op::kAdd}, {"-", Op::kSub}});
  }
  Result<int> Product(int depth) {
    return Binary(depth, &IntExprParser::Unary,
                  {{"*", Op::kMul}, {"/", Op::kDiv}, {"%", Op::kMod}});
  }

  Result<int> Unary(int depth) {
    if (depth > kMaxDepth) return Error{At(Peek()) + "expression nested too deeply"};
    for (const auto& [symbol, op] :
         std::vector<std::pair<const char*, Op>>{{"-", Op::kNeg}, {"+", Op::kPlus}, {"!", Op::kNot}}) {
      if (Accept(symbol)) {
        auto operand = Unary(depth + 1);
        if (!operand.ok()) return operand;
        return Add({op, 0, "", *operand, -1});
      }
    }
    return Primary(depth);
  }

  Result<int> Primary(int depth) {
    const Token t = Peek();
    if (t.kind == Token::kNumber) {
      ++pos_;
      auto v = ParseInt(t.text, At(t) + "number");
      if (!v.ok()) return v.error();
      return Add({Op::kConst, *v, "", -1, -1});
    }
    if (t.kind == Token::kName) {
      ++pos_;
      if (std::find(names_.begin(), names_.end(), t.text) == names_.end())
        return Error{At(t) + UnknownName("name", t.text, names_).message};
      if (std::find(expr_.variables_.begin(), expr_.variables_.end(), t.text) ==
          expr_.variables_.end())
        expr_.variables_.push_back(t.text);
      return Add({Op::kVar, 0, t.text, -1, -1});
    }
    if (Accept("(")) {
      auto inner = Or(depth + 1);
      if (!inner.ok()) return inner;
      if (!Accept(")")) return Error{At(Peek()) + "expected ')'; got " + Describe(Peek())};
      return inner;
    }
    return Error{At(t) + "expected a number, a name or '('; got " + Describe(t)};
  }

  IntExpr& expr_;
  std::vector<Token> tokens_;
  const std::vector<std::string>& names_;
  size_t pos_ = 0;
};

Result<IntExpr> IntExpr::Parse(const std::string& text, const std::vector<std::string>& names) {
  SIMTUNE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(text));
  IntExpr expr;
  expr.text_ = text;
  IntExprParser parser(expr, std::move(tokens), names);
  Status status = parser.Run();
  if (!status.ok()) return status.error();
  return expr;
}

Result<int64_t> IntExpr::Eval(const std::map<std::string, int64_t>& vars) const {
  SIMTUNE_CHECK(root_ >= 0);
  return EvalNode(root_, vars);
}

Result<int64_t> IntExpr::EvalNode(int index, const std::map<std::string, int64_t>& vars) const {
  const Node& n = nodes_[index];
  switch (n.op) {
    case Op::kConst:
      return n.value;
    case Op::kVar: {
      auto it = vars.find(n.name);
      SIMTUNE_CHECK_MSG(it != vars.end(), n.name);
      return it->second;
    }
    case Op::kAnd:
    case Op::kOr: {
      SIMTUNE_ASSIGN_OR_RETURN(int64_t lhs, EvalNode(n.lhs, vars));
      if (n.op == Op::kAnd && lhs == 0) return int64_t{0};
      if (n.op == Op::kOr && lhs != 0) return int64_t{1};
      SIMTUNE_ASSIGN_OR_RETURN(int64_t rhs, EvalNode(n.rhs, vars));
      return int64_t{rhs != 0};
    }
    default:
      break;
  }
  SIMTUNE_ASSIGN_OR_RETURN(int64_t lhs, EvalNode(n.lhs, vars));
  int64_t out = 0;
  switch (n.op) {
    case Op::kNeg:
      if (__builtin_sub_overflow(int64_t{0}, lhs, &out)) return Error{"integer overflow"};
      return out;
    case Op::kPlus:
      return lhs;
    case Op::kNot:
      return int64_t{lhs == 0};
    default:
      break;
  }
  SIMTUNE_ASSIGN_OR_RETURN(int64_t rhs, EvalNode(n.rhs, vars));
  switch (n.op) {
    case Op::kAdd:
      if (__builtin_add_overflow(lhs, rhs, &out)) return Error{"integer overflow"};
      return out;
    case Op::kSub:
      if (__builtin_sub_overflow(lhs, rhs, &out)) return Error{"integer overflow"};
      return out;
    case Op::kMul:
      if (__builtin_mul_overflow(lhs, rhs, &out)) return Error{"integer overflow"};
      return out;
    case Op::kDiv:
    case Op::kMod:
      if (rhs == 0) return Error{"division by zero"};
      if (lhs == std::numeric_limits<int64_t>::min() && rhs == -1) {
        if (n.op == Op::kMod) return int64_t{0};
        return Error{"integer overflow"};
      }
      return n.op == Op::kDiv ? lhs / rhs : lhs % rhs;
    case Op::kLt:
      return int64_t{lhs < rhs};
    case Op::kLe:
      return int64_t{lhs <= rhs};
    case Op::kGt:
      return int64_t{lhs > rhs};
    case Op::kGe:
      return int64_t{lhs >= rhs};
    case Op::kEq:
      return int64_t{lhs == rhs};
    case Op::kNe:
      return int64_t{lhs != rhs};
    default:
      break;
  }
  SIMTUNE_CHECK_MSG(false, "unhandled operator");
  return int64_t{0};
}

}  // namespace simtune::workloads
