// Registry: name -> (description, factory) for one pluggable concept (simulators,
// references, operators, predictors, strategies). Built-ins are registered explicitly from
// one function per concept (static-initialiser registration does not survive static
// linking). Lifecycle: Register() during start-up, then Create()/List() from any thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "simtune/result.h"
#include "simtune/strings.h"

namespace simtune {

template <class Base, class... Args>
class Registry {
 public:
  using Factory = std::function<Result<std::unique_ptr<Base>>(Args...)>;
  struct Entry {
    std::string name;
    std::string description;
  };

  // `kind` names the concept in error messages ("simulator", "reference", ...).
  explicit Registry(std::string kind) : kind_(std::move(kind)) {}

  // Registering a name twice is a bug.
  void Register(std::string name, std::string description, Factory factory) {
    SIMTUNE_CHECK_MSG(!entries_.count(name), name);
    entries_.emplace(name, Item{std::move(description), std::move(factory)});
  }

  bool Contains(std::string_view name) const { return entries_.count(std::string(name)) > 0; }

  // Unknown names fail with the valid names and a "did you mean" suggestion.
  Result<std::unique_ptr<Base>> Create(std::string_view name, Args... args) const {
    auto it = entries_.find(std::string(name));
    if (it == entries_.end()) return UnknownName(kind_, name, Names());
    return it->second.factory(std::forward<Args>(args)...);
  }

  std::vector<Entry> List() const {
    std::vector<Entry> out;
    for (const auto& [name, item] : entries_) out.push_back({name, item.description});
    return out;
  }

  std::vector<std::string> Names() const {
    std::vector<std::string> out;
    for (const auto& [name, item] : entries_) out.push_back(name);
    return out;
  }

 private:
  struct Item {
    std::string description;
    Factory factory;
  };
  std::string kind_;
  std::map<std::string, Item> entries_;
};

}  // namespace simtune
