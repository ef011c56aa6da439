// Small string helpers shared across concepts: splitting, strict number parsing, and the
// "unknown name" error with a did-you-mean suggestion.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "simtune/result.h"

namespace simtune {

std::vector<std::string> Split(std::string_view text, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string Trim(std::string_view text);
bool StartsWith(std::string_view text, std::string_view prefix);

// Splits a command-line list. One separator for every list flag: ','. An item may carry its
// own "key=value,..." after a ':' (a workload "gemm:M=64,N=64,K=64", a predictor
// "xgb-rank:objective=ndcg,folds=3"), so a segment of the form "key=value" (an '=' and no ':'
// before it) continues the item before it:
//   "gemm:M=64,N=64,K=64,mvm:M=64,K=64,resnet18.conv2_x"
//     -> {"gemm:M=64,N=64,K=64", "mvm:M=64,K=64", "resnet18.conv2_x"}
// ';' separates items too (the older spelling of --workloads and --predictors). Items are
// trimmed; empty items are dropped.
std::vector<std::string> SplitList(std::string_view text);

// Parses the whole of `text` as a base-10 integer / finite double. Trailing junk, empty
// input and overflow are errors; `what` names the value in the message, e.g.
// ParseInt("7x", "tile_m") -> "tile_m: expected an integer; got '7x'".
Result<int64_t> ParseInt(std::string_view text, std::string_view what);
Result<double> ParseDouble(std::string_view text, std::string_view what);

// Splits "key=value,key=value" (blank text: none) into (key, value) pairs in order, both
// trimmed. Errors name `kind` ("native reference option"): "<kind> '<item>': expected
// key=value" and, for a repeated key, "<kind> <key>: given twice".
Result<std::vector<std::pair<std::string, std::string>>> ParseKeyValues(std::string_view text,
                                                                       std::string_view kind);

// `text` with every invalid UTF-8 sequence (stray continuation bytes, truncated or overlong
// sequences, surrogates, code points above U+10FFFF) replaced by U+FFFD. Text from a child
// process's output goes through it, so that it can be stored and written as JSON.
std::string SanitizeUtf8(std::string_view text);

// json.dump() that never throws: invalid UTF-8 in a string becomes U+FFFD. Use it for every
// document holding text from outside (output of a child, a message, a path).
std::string DumpJson(const nlohmann::json& j, int indent = -1);
std::string DumpJson(const nlohmann::ordered_json& j, int indent = -1);   // keeps key order

// head + "\n...[<dropped> bytes dropped]...\n" + tail: what is kept of a long text whose
// middle was dropped (no marker when dropped is 0).
std::string ElideMiddle(std::string_view head, size_t dropped, std::string_view tail);

// Levenshtein distance, for suggestions.
size_t EditDistance(std::string_view a, std::string_view b);

// The closest of `candidates` to `name` if it is close enough to be a plausible typo.
std::string Suggest(std::string_view name, const std::vector<std::string>& candidates);

// "unknown <kind> 'foo'; did you mean 'bar'? valid: a, b, c"
Error UnknownName(std::string_view kind, std::string_view name,
                  const std::vector<std::string>& valid);

// The current time in UTC, formatted by strftime's `format` (e.g. "%Y-%m-%dT%H:%M:%SZ").
std::string UtcNow(const char* format);

}  // namespace simtune
