#include "int_expr.h"

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>

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
    return Status::Ok();
  }

 private:
  using Op = IntExpr::Op;
  // The text of a parsed subexpression, [begin, end) 0-based; its root is the last node
  // emitted.
  struct Span {
    size_t begin, end;
  };

  const Token& Peek() const { return tokens_[pos_]; }
  bool Accept(const char* symbol) {
    if (Peek().kind == Token::kSymbol && Peek().text == symbol) {
      ++pos_;
      return true;
    }
    return false;
  }
  static std::string At(const Token& t) { return "column " + std::to_string(t.column) + ": "; }
  static Span SpanOf(const Token& t) { return {t.column - 1, t.column - 1 + t.text.size()}; }

  size_t Emit(Op op, Span span, int64_t value = 0, std::string name = "") {
    expr_.nodes_.push_back({op, value, std::move(name), span.begin, span.end});
    return expr_.nodes_.size() - 1;
  }

  // One left-associative binary level, as a loop: `next` parses the operands, `ops` maps
  // symbols to ops. && and || put a jump after their left operand (see IntExpr::Op).
  template <class Next>
  Result<Span> Binary(int depth, Next next, const std::vector<std::pair<const char*, Op>>& ops) {
    SIMTUNE_ASSIGN_OR_RETURN(Span lhs, (this->*next)(depth));
    while (true) {
      const std::pair<const char*, Op>* matched = nullptr;
      for (const auto& entry : ops) {
        if (Accept(entry.first)) {
          matched = &entry;
          break;
        }
      }
      if (!matched) return lhs;
      const Op op = matched->second;
      std::optional<size_t> jump;
      if (op == Op::kAnd || op == Op::kOr)
        jump = Emit(op == Op::kAnd ? Op::kAndJump : Op::kOrJump, lhs);
      SIMTUNE_ASSIGN_OR_RETURN(Span rhs, (this->*next)(depth));
      lhs = {lhs.begin, rhs.end};
      const size_t at = Emit(op, lhs);
      if (jump) expr_.nodes_[*jump].value = static_cast<int64_t>(at);
    }
  }

  Result<Span> Or(int depth) { return Binary(depth, &IntExprParser::And, {{"||", Op::kOr}}); }
  Result<Span> And(int depth) { return Binary(depth, &IntExprParser::Eq, {{"&&", Op::kAnd}}); }
  Result<Span> Eq(int depth) {
    return Binary(depth, &IntExprParser::Rel, {{"==", Op::kEq}, {"!=", Op::kNe}});
  }
  Result<Span> Rel(int depth) {
    return Binary(depth, &IntExprParser::Sum,
                  {{"<=", Op::kLe}, {">=", Op::kGe}, {"<", Op::kLt}, {">", Op::kGt}});
  }
  Result<Span> Sum(int depth) {
    return Binary(depth, &IntExprParser::Product, {{"+", Op::kAdd}, {"-", Op::kSub}});
  }
  Result<Span> Product(int depth) {
    return Binary(depth, &IntExprParser::Unary,
                  {{"*", Op::kMul}, {"/", Op::kDiv}, {"%", Op::kMod}});
  }

  Result<Span> Unary(int depth) {
    if (depth > kMaxDepth) return Error{At(Peek()) + "expression nested too deeply"};
    for (const auto& [symbol, op] :
         std::vector<std::pair<const char*, Op>>{{"-", Op::kNeg}, {"+", Op::kPlus}, {"!", Op::kNot}}) {
      const Token t = Peek();
      if (Accept(symbol)) {
        SIMTUNE_ASSIGN_OR_RETURN(Span operand, Unary(depth + 1));
        const Span span{SpanOf(t).begin, operand.end};
        Emit(op, span);
        return span;
      }
    }
    return Primary(depth);
  }

  Result<Span> Primary(int depth) {
    const Token t = Peek();
    if (t.kind == Token::kNumber) {
      ++pos_;
      auto v = ParseInt(t.text, At(t) + "number");
      if (!v.ok()) return v.error();
      Emit(Op::kConst, SpanOf(t), *v);
      return SpanOf(t);
    }
    if (t.kind == Token::kName) {
      ++pos_;
      if (std::find(names_.begin(), names_.end(), t.text) == names_.end())
        return Error{At(t) + UnknownName("name", t.text, names_).message};
      if (std::find(expr_.variables_.begin(), expr_.variables_.end(), t.text) ==
          expr_.variables_.end())
        expr_.variables_.push_back(t.text);
      Emit(Op::kVar, SpanOf(t), 0, t.text);
      return SpanOf(t);
    }
    if (Accept("(")) {
      SIMTUNE_RETURN_IF_ERROR(Or(depth + 1));
      const Token close = Peek();
      if (!Accept(")")) return Error{At(close) + "expected ')'; got " + Describe(close)};
      // The parentheses belong to the subexpression's text ("N % (B - 4)").
      const Span span{SpanOf(t).begin, SpanOf(close).end};
      expr_.nodes_.back().begin = span.begin;
      expr_.nodes_.back().end = span.end;
      return span;
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
  SIMTUNE_CHECK(!nodes_.empty());
  std::vector<int64_t> stack;
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    auto failed = [&](const char* what) {
      return Error{std::string(what) + " in '" + text_.substr(n.begin, n.end - n.begin) + "'"};
    };
    switch (n.op) {
      case Op::kConst:
        stack.push_back(n.value);
        continue;
      case Op::kVar: {
        auto it = vars.find(n.name);
        SIMTUNE_CHECK_MSG(it != vars.end(), n.name);
        stack.push_back(it->second);
        continue;
      }
      case Op::kAndJump:
      case Op::kOrJump: {
        SIMTUNE_CHECK(!stack.empty());
        const bool lhs = stack.back() != 0;
        if (lhs == (n.op == Op::kOrJump)) {
          stack.back() = lhs ? 1 : 0;
          i = static_cast<size_t>(n.value);   // past the operator's node
        } else {
          stack.pop_back();
        }
        continue;
      }
      default:
        break;
    }
    SIMTUNE_CHECK(!stack.empty());
    int64_t& top = stack.back();
    int64_t out = 0;
    switch (n.op) {
      case Op::kNeg:
        if (__builtin_sub_overflow(int64_t{0}, top, &out)) return failed("integer overflow");
        top = out;
        continue;
      case Op::kPlus:
        continue;
      case Op::kNot:
        top = top == 0;
        continue;
      case Op::kAnd:   // reached only when the left operand did not decide: rhs on top
      case Op::kOr:
        top = top != 0;
        continue;
      default:
        break;
    }
    SIMTUNE_CHECK(stack.size() >= 2);
    const int64_t rhs = stack.back();
    stack.pop_back();
    int64_t& lhs = stack.back();
    switch (n.op) {
      case Op::kAdd:
        if (__builtin_add_overflow(lhs, rhs, &out)) return failed("integer overflow");
        break;
      case Op::kSub:
        if (__builtin_sub_overflow(lhs, rhs, &out)) return failed("integer overflow");
        break;
      case Op::kMul:
        if (__builtin_mul_overflow(lhs, rhs, &out)) return failed("integer overflow");
        break;
      case Op::kDiv:
      case Op::kMod:
        if (rhs == 0) return failed(n.op == Op::kDiv ? "division by zero" : "modulo by zero");
        if (lhs == std::numeric_limits<int64_t>::min() && rhs == -1) {
          if (n.op == Op::kDiv) return failed("integer overflow");
          out = 0;
        } else {
          out = n.op == Op::kDiv ? lhs / rhs : lhs % rhs;
        }
        break;
      case Op::kLt: out = lhs < rhs; break;
      case Op::kLe: out = lhs <= rhs; break;
      case Op::kGt: out = lhs > rhs; break;
      case Op::kGe: out = lhs >= rhs; break;
      case Op::kEq: out = lhs == rhs; break;
      case Op::kNe: out = lhs != rhs; break;
      default:
        SIMTUNE_CHECK_MSG(false, "unhandled operator");
    }
    lhs = out;
  }
  SIMTUNE_CHECK(stack.size() == 1);
  return stack.back();
}

}  // namespace simtune::workloads
