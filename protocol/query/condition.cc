#include "protocol/query/condition.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <functional>

#include "protocol/wire/kv.h"

namespace ix::query {

namespace {

enum class Tok { kEnd, kIdent, kString, kNumber, kLParen, kRParen, kComma, kOp };

struct Token {
  Tok type = Tok::kEnd;
  std::string text;
  size_t position = 0;  // 1-based
};

Error parse_error(size_t position, const std::string& message) {
  return Error{static_cast<int>(proto::ErrorCode::InvalidCondition), "at position " + std::to_string(position) + ": " + message};
}

class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  Result<std::vector<Token>> run() {
    std::vector<Token> out;
    while (true) {
      while (i_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[i_]))) ++i_;
      const size_t start = i_ + 1;
      if (i_ >= text_.size()) {
        out.push_back({Tok::kEnd, "", start});
        return out;
      }
      const char c = text_[i_];
      if (c == '(') out.push_back({Tok::kLParen, "(", start}), ++i_;
      else if (c == ')') out.push_back({Tok::kRParen, ")", start}), ++i_;
      else if (c == ',') out.push_back({Tok::kComma, ",", start}), ++i_;
      else if (c == '\'') {
        std::string value;
        ++i_;
        while (true) {
          if (i_ >= text_.size()) return parse_error(start, "string literal is not closed");
          if (text_[i_] == '\'') {
            if (i_ + 1 < text_.size() && text_[i_ + 1] == '\'') {
              value += '\'';
              i_ += 2;
              continue;
            }
            ++i_;
            break;
          }
          value += text_[i_++];
        }
        out.push_back({Tok::kString, value, start});
      } else if (std::isdigit(static_cast<unsigned char>(c)) || (c == '-' && i_ + 1 < text_.size() && std::isdigit(static_cast<unsigned char>(text_[i_ + 1])))) {
        size_t end = i_ + 1;
        while (end < text_.size() && std::isdigit(static_cast<unsigned char>(text_[end]))) ++end;
        out.push_back({Tok::kNumber, std::string(text_.substr(i_, end - i_)), start});
        i_ = end;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == '[') {
        if (c == '[') {  // [attribute], as in the familiar SQL-like conditions
          size_t end = text_.find(']', i_);
          if (end == std::string_view::npos) return parse_error(start, "'[' is not closed");
          out.push_back({Tok::kIdent, std::string(text_.substr(i_ + 1, end - i_ - 1)), start});
          i_ = end + 1;
          continue;
        }
        size_t end = i_;
        while (end < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[end])) || text_[end] == '_' || text_[end] == '.')) ++end;
        out.push_back({Tok::kIdent, std::string(text_.substr(i_, end - i_)), start});
        i_ = end;
        // ud['Key with spaces']
        if (out.back().text == "ud" && i_ + 1 < text_.size() && text_[i_] == '[' && text_[i_ + 1] == '\'') {
          size_t close = text_.find("']", i_ + 2);
          if (close == std::string_view::npos) return parse_error(i_ + 1, "ud['...'] is not closed");
          out.back().text = "ud." + std::string(text_.substr(i_ + 2, close - i_ - 2));
          i_ = close + 2;
        }
      } else {
        static const char* const ops[] = {"<=", ">=", "!=", "<>", "=", "<", ">"};
        bool matched = false;
        for (const char* op : ops) {
          if (text_.substr(i_).starts_with(op)) {
            out.push_back({Tok::kOp, op, start});
            i_ += std::string_view(op).size();
            matched = true;
            break;
          }
        }
        if (!matched) return parse_error(start, std::string("unexpected character '") + c + "'");
      }
    }
  }

 private:
  std::string_view text_;
  size_t i_ = 0;
};

bool keyword(const Token& t, std::string_view word) {
  if (t.type != Tok::kIdent || t.text.size() != word.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (std::toupper(static_cast<unsigned char>(t.text[i])) != word[i]) return false;
  }
  return true;
}

const std::vector<std::string_view>& attributes() {
  static const std::vector<std::string_view> names{
      "interaction_id", "tenant_id", "media_type", "interaction_type", "interaction_subtype", "parent_id", "priority",
      "state",          "queue",     "workbin_type", "agent_id",       "place_id",            "submitted", "placed"};
  return names;
}

Result<Operand> operand_from(const Token& t) {
  Operand o;
  if (t.type == Tok::kString) {
    o.literal = t.text;
    return o;
  }
  if (t.type == Tok::kNumber) {
    int64_t v = 0;
    auto [end, ec] = std::from_chars(t.text.data(), t.text.data() + t.text.size(), v);
    if (ec != std::errc()) return parse_error(t.position, "number " + t.text + " is out of range");
    o.literal = v;
    return o;
  }
  if (t.type == Tok::kIdent) {
    if (t.text.starts_with("ud.") && t.text.size() > 3) {
      o.kind = Operand::Kind::kUserData;
      o.name = t.text.substr(3);
      return o;
    }
    std::string lower = t.text;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "submitted_at_us") lower = "submitted";
    if (lower == "placed_at_us") lower = "placed";
    if (std::find(attributes().begin(), attributes().end(), lower) != attributes().end()) {
      o.kind = Operand::Kind::kAttribute;
      o.name = lower;
      return o;
    }
    return parse_error(t.position, "unknown attribute \"" + t.text + "\" (user data is written ud." + t.text + ")");
  }
  return parse_error(t.position, t.type == Tok::kEnd ? "expected a value, found the end" : "expected a value, found \"" + t.text + "\"");
}

int compare(const Value& a, const Value& b, bool& comparable) {
  comparable = false;
  if (std::holds_alternative<std::monostate>(a) || std::holds_alternative<std::monostate>(b)) return 0;
  if (a.index() != b.index()) return 0;
  comparable = true;
  if (const auto* ia = std::get_if<int64_t>(&a)) {
    int64_t ib = std::get<int64_t>(b);
    return *ia < ib ? -1 : *ia > ib ? 1 : 0;
  }
  return std::get<std::string>(a).compare(std::get<std::string>(b)) < 0 ? -1 : std::get<std::string>(a) == std::get<std::string>(b) ? 0 : 1;
}

}  // namespace

Value Operand::of(const proto::InteractionInfoT& i) const {
  if (kind == Kind::kLiteral) return literal;
  if (kind == Kind::kUserData) {
    if (!i.user_data) return {};
    for (const auto& p : i.user_data->pairs) {
      if (p->key != name) continue;
      if (p->list_value || !p->binary_value.empty()) return {};
      if (!p->string_value.empty()) return p->string_value;
      return p->int_value;
    }
    return {};
  }
  if (name == "priority") return int64_t{i.priority};
  if (name == "submitted") return i.submitted_at_us;
  if (name == "placed") return i.placed_at_us;
  if (name == "state") return std::string(proto::EnumNameInteractionState(i.state));
  if (name == "interaction_id") return i.interaction_id;
  if (name == "tenant_id") return i.tenant_id;
  if (name == "media_type") return i.media_type;
  if (name == "interaction_type") return i.interaction_type;
  if (name == "interaction_subtype") return i.interaction_subtype;
  if (name == "parent_id") return i.parent_id;
  if (name == "queue") return i.queue;
  if (name == "workbin_type") return i.workbin_type;
  if (name == "agent_id") return i.agent_id;
  if (name == "place_id") return i.place_id;
  return {};
}

struct Condition::Node {
  enum class Kind { kAnd, kOr, kNot, kCompare, kIn } kind;
  std::vector<std::shared_ptr<const Node>> children;
  Operand left, right;
  std::string op;
  std::vector<Value> set;
  bool negate_in = false;

  bool eval(const proto::InteractionInfoT& i) const {
    switch (kind) {
      case Kind::kAnd: return std::all_of(children.begin(), children.end(), [&](const auto& c) { return c->eval(i); });
      case Kind::kOr: return std::any_of(children.begin(), children.end(), [&](const auto& c) { return c->eval(i); });
      case Kind::kNot: return !children[0]->eval(i);
      case Kind::kIn: {
        Value v = left.of(i);
        if (std::holds_alternative<std::monostate>(v)) return false;
        bool found = std::any_of(set.begin(), set.end(), [&](const Value& s) {
          bool comparable;
          return compare(v, s, comparable) == 0 && comparable;
        });
        return found != negate_in;
      }
      case Kind::kCompare: {
        bool comparable;
        int c = compare(left.of(i), right.of(i), comparable);
        if (!comparable) return false;
        if (op == "=") return c == 0;
        if (op == "!=" || op == "<>") return c != 0;
        if (op == "<") return c < 0;
        if (op == "<=") return c <= 0;
        if (op == ">") return c > 0;
        return c >= 0;
      }
    }
    return false;
  }
};

namespace {

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}
  using NodePtr = std::shared_ptr<const Condition::Node>;

  Result<NodePtr> parse() {
    auto root = parse_or();
    if (!root) return root;
    if (peek().type != Tok::kEnd) return parse_error(peek().position, "unexpected \"" + peek().text + "\"; expected AND, OR or the end");
    return root;
  }

 private:
  const Token& peek() const { return t_[i_]; }
  const Token& next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }

  Result<NodePtr> parse_or() {
    auto first = parse_and();
    if (!first) return first;
    if (!keyword(peek(), "OR")) return first;
    auto node = std::make_shared<Condition::Node>();
    node->kind = Condition::Node::Kind::kOr;
    node->children.push_back(*first);
    while (keyword(peek(), "OR")) {
      next();
      auto more = parse_and();
      if (!more) return more;
      node->children.push_back(*more);
    }
    return NodePtr(node);
  }

  Result<NodePtr> parse_and() {
    auto first = parse_not();
    if (!first) return first;
    if (!keyword(peek(), "AND")) return first;
    auto node = std::make_shared<Condition::Node>();
    node->kind = Condition::Node::Kind::kAnd;
    node->children.push_back(*first);
    while (keyword(peek(), "AND")) {
      next();
      auto more = parse_not();
      if (!more) return more;
      node->children.push_back(*more);
    }
    return NodePtr(node);
  }

  Result<NodePtr> parse_not() {
    if (++depth_ > 100) return parse_error(peek().position, "condition is nested too deeply");
    if (keyword(peek(), "NOT")) {
      next();
      auto inner = parse_not();
      if (!inner) return inner;
      auto node = std::make_shared<Condition::Node>();
      node->kind = Condition::Node::Kind::kNot;
      node->children.push_back(*inner);
      --depth_;
      return NodePtr(node);
    }
    if (peek().type == Tok::kLParen) {
      next();
      auto inner = parse_or();
      if (!inner) return inner;
      if (peek().type != Tok::kRParen) return parse_error(peek().position, "expected ')'");
      next();
      --depth_;
      return inner;
    }
    --depth_;
    return parse_comparison();
  }

  Result<NodePtr> parse_comparison() {
    auto left = operand_from(peek());
    if (!left) return left.error();
    next();
    auto node = std::make_shared<Condition::Node>();
    node->left = *left;
    bool negate = false;
    if (keyword(peek(), "NOT")) {
      next();
      negate = true;
      if (!keyword(peek(), "IN")) return parse_error(peek().position, "expected IN after NOT");
    }
    if (keyword(peek(), "IN")) {
      next();
      node->kind = Condition::Node::Kind::kIn;
      node->negate_in = negate;
      if (peek().type != Tok::kLParen) return parse_error(peek().position, "expected '(' after IN");
      next();
      while (true) {
        const Token& item = peek();
        if (item.type != Tok::kString && item.type != Tok::kNumber) return parse_error(item.position, "expected a literal in the IN list");
        auto literal = operand_from(item);
        if (!literal) return literal.error();  // e.g. a number out of range
        node->set.push_back(literal->literal);
        next();
        if (peek().type == Tok::kComma) {
          next();
          continue;
        }
        if (peek().type != Tok::kRParen) return parse_error(peek().position, "expected ',' or ')' in the IN list");
        next();
        break;
      }
      return NodePtr(node);
    }
    if (peek().type != Tok::kOp) {
      return parse_error(peek().position, peek().type == Tok::kEnd ? "expected a comparison operator, found the end"
                                                                   : "expected a comparison operator, found \"" + peek().text + "\"");
    }
    node->kind = Condition::Node::Kind::kCompare;
    node->op = next().text;
    auto right = operand_from(peek());
    if (!right) return right.error();
    next();
    node->right = *right;
    return NodePtr(node);
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<Condition> Condition::parse(std::string_view text) {
  Condition c;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return c;
  auto tokens = Lexer(text).run();
  if (!tokens) return tokens.error();
  auto root = Parser(std::move(*tokens)).parse();
  if (!root) return root.error();
  c.root_ = *root;
  return c;
}

bool Condition::matches(const proto::InteractionInfoT& interaction) const { return !root_ || root_->eval(interaction); }

std::optional<std::vector<std::string>> Condition::required_values(std::string_view attribute) const {
  auto names = [&](const Operand& o) { return o.kind == Operand::Kind::kAttribute && o.name == attribute; };
  auto text = [](const Value& v) { return std::holds_alternative<std::string>(v); };
  std::function<std::optional<std::vector<std::string>>(const Node&)> walk = [&](const Node& n) -> std::optional<std::vector<std::string>> {
    switch (n.kind) {
      case Node::Kind::kAnd:
        for (const auto& child : n.children) {
          if (auto values = walk(*child)) return values;
        }
        return std::nullopt;
      case Node::Kind::kCompare:
        if (n.op != "=") return std::nullopt;
        if (names(n.left) && n.right.kind == Operand::Kind::kLiteral && text(n.right.literal)) {
          return std::vector<std::string>{std::get<std::string>(n.right.literal)};
        }
        if (names(n.right) && n.left.kind == Operand::Kind::kLiteral && text(n.left.literal)) {
          return std::vector<std::string>{std::get<std::string>(n.left.literal)};
        }
        return std::nullopt;
      case Node::Kind::kIn: {
        if (n.negate_in || !names(n.left)) return std::nullopt;
        std::vector<std::string> values;
        for (const Value& v : n.set) {
          if (!text(v)) return std::nullopt;
          values.push_back(std::get<std::string>(v));
        }
        return values;
      }
      default:
        return std::nullopt;
    }
  };
  if (!root_) return std::nullopt;
  return walk(*root_);
}

Result<Order> Order::parse(std::string_view text) {
  Order order;
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) text = "priority desc, submitted asc";
  auto tokens = Lexer(text).run();
  if (!tokens) return tokens.error();
  size_t i = 0;
  const std::vector<Token>& t = *tokens;
  while (true) {
    if (t[i].type != Tok::kIdent) return parse_error(t[i].position, "expected an attribute to order by");
    auto operand = operand_from(t[i]);
    if (!operand) return operand.error();
    ++i;
    Key key{*operand, false};
    if (keyword(t[i], "DESC")) key.descending = true, ++i;
    else if (keyword(t[i], "ASC")) ++i;
    order.keys_.push_back(std::move(key));
    if (t[i].type == Tok::kEnd) break;
    if (t[i].type != Tok::kComma) return parse_error(t[i].position, "expected ',' or the end of the order");
    ++i;
  }
  // A stable total order: ties end on the interaction ID.
  order.keys_.push_back({Operand{Operand::Kind::kAttribute, "interaction_id", {}}, false});
  return order;
}

bool Order::less(const proto::InteractionInfoT& a, const proto::InteractionInfoT& b) const {
  for (const Key& key : keys_) {
    Value va = key.operand.of(a), vb = key.operand.of(b);
    // Absent values sort last, whatever the direction.
    const bool absent_a = std::holds_alternative<std::monostate>(va), absent_b = std::holds_alternative<std::monostate>(vb);
    if (absent_a != absent_b) return absent_b;
    if (va.index() != vb.index()) return va.index() < vb.index();
    bool comparable;
    int c = compare(va, vb, comparable);
    if (!comparable || c == 0) continue;
    return key.descending ? c > 0 : c < 0;
  }
  return false;
}

}  // namespace ix::query
