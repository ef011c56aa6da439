// Internal: the integer expressions of custom kernel specs ("restrictions"), e.g.
// "BLOCK * UNROLL <= 64 && N % BLOCK == 0". Parsed once, evaluated per candidate.
//
// Grammar (C precedence and semantics, 64-bit signed integers):
//   expr    := or
//   or      := and ('||' and)*          short-circuit, yields 0 or 1
//   and     := eq ('&&' eq)*            short-circuit, yields 0 or 1
//   eq      := rel (('==' | '!=') rel)*
//   rel     := add (('<' | '<=' | '>' | '>=') add)*
//   add     := mul (('+' | '-') mul)*
//   mul     := unary (('*' | '/' | '%') unary)*   '/' and '%' truncate toward zero
//   unary   := ('-' | '+' | '!') unary | primary
//   primary := decimal literal | name | '(' expr ')'
// Division or modulo by zero and overflow are evaluation errors naming the subexpression
// ("modulo by zero in 'N % B'"), never undefined behaviour.
//
// Neither parsing nor evaluation recurses per term: binary chains are parsed by loops and the
// expression is kept in postfix order, evaluated with an explicit stack, so a restriction of
// any length is safe; only nesting (parentheses, unary operators) is bounded (kMaxDepth).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "simtune/result.h"

namespace simtune::workloads {

class IntExpr {
 public:
  // `names` are the variables the expression may use; any other name is an error with a
  // did-you-mean suggestion. Errors give the 1-based column, e.g.
  // "column 7: expected a number, a name or '('; got end of text".
  static Result<IntExpr> Parse(const std::string& text, const std::vector<std::string>& names);

  // Precondition: `vars` holds every name in variables().
  Result<int64_t> Eval(const std::map<std::string, int64_t>& vars) const;

  const std::string& text() const { return text_; }
  // Names the expression uses, in order of first use.
  const std::vector<std::string>& variables() const { return variables_; }

 private:
  // kAndJump/kOrJump follow the left operand of && and ||: when it decides the result they
  // leave it (as 0/1) on the stack and continue after the operator's own node (`value`).
  enum class Op { kConst, kVar, kNeg, kPlus, kNot, kAdd, kSub, kMul, kDiv, kMod,
                  kLt, kLe, kGt, kGe, kEq, kNe, kAnd, kOr, kAndJump, kOrJump };
  // One step of the postfix program: operands come before their operator.
  struct Node {
    Op op;
    int64_t value = 0;   // kConst: the literal; kAndJump/kOrJump: index of the operator node
    std::string name;    // kVar
    size_t begin = 0;    // the subexpression's text, [begin, end) in text_, for messages
    size_t end = 0;
  };
  friend class IntExprParser;

  std::string text_;
  std::vector<Node> nodes_;   // postfix order
  std::vector<std::string> variables_;
};

}  // namespace simtune::workloads
