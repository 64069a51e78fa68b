#include "tools/ixengage/engagement_service.h"

#include <openssl/base64.h>
#include <openssl/mem.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <iostream>

namespace ix::engage {

using http::HttpRequest;
using http::HttpResponse;
using nlohmann::json;

namespace {

constexpr size_t kMaxFencingEntries = 10'000;

constexpr std::pair<Mode, const char*> kModes[] = {
    {Mode::kOk, "ok"},
    {Mode::kFail, "fail"},
    {Mode::kStall, "stall"},
    {Mode::kUnauthorized, "unauthorized"},
    {Mode::kBulkUnauthorized, "bulk-unauthorized"},
    {Mode::kInvalidJson, "invalid-json"},
    {Mode::kTargetErrors, "target-errors"},
};

// Peers' bytes (header values, parser messages quoting the body) may be any bytes: invalid UTF-8
// is replaced rather than thrown about.
std::string dump(const json& value, int indent = -1) { return value.dump(indent, ' ', false, json::error_handler_t::replace); }

HttpResponse json_response(int status, const json& body) { return HttpResponse::json(status, dump(body)); }

HttpResponse oauth_error(int status, const std::string& error, const std::string& description) {
  HttpResponse r = json_response(status, {{"error", error}, {"error_description", description}});
  if (status == 401) r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"ixengage\"");
  return r;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

// "Basic xyz" -> "xyz" when the scheme matches (case-insensitively), else nullopt.
std::optional<std::string> credentials_of(const std::string* header, const std::string& scheme) {
  if (header == nullptr) return std::nullopt;
  const std::string value = trim(*header);
  const size_t space = value.find(' ');
  if (space == std::string::npos || lower(value.substr(0, space)) != scheme) return std::nullopt;
  return trim(value.substr(space + 1));
}

std::optional<std::string> base64_decode(const std::string& text) {
  size_t max = 0;
  if (!EVP_DecodedLength(&max, text.size())) return std::nullopt;
  std::string out(max, '\0');
  size_t len = 0;
  if (!EVP_DecodeBase64(reinterpret_cast<uint8_t*>(out.data()), &len, max, reinterpret_cast<const uint8_t*>(text.data()),
                        text.size())) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

std::string url_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> parse_form(const std::string& body) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at <= body.size()) {
    size_t amp = body.find('&', at);
    if (amp == std::string::npos) amp = body.size();
    const std::string pair = body.substr(at, amp - at);
    const size_t eq = pair.find('=');
    if (!pair.empty()) out[url_decode(pair.substr(0, eq))] = eq == std::string::npos ? "" : url_decode(pair.substr(eq + 1));
    at = amp + 1;
  }
  return out;
}

std::string random_token() {
  uint8_t bytes[24];
  RAND_bytes(bytes, sizeof bytes);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (uint8_t b : bytes) {
    out += hex[b >> 4];
    out += hex[b & 15];
  }
  return out;
}

bool constant_time_equal(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<uint64_t> parse_unsigned(const std::string& text) {
  if (text.empty() || text.size() > 19 || !std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); })) {
    return std::nullopt;
  }
  return std::stoull(text);
}

bool is_nonnegative_integer(const json& v) {
  return v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0);
}

bool is_positive_number(const json& v) { return v.is_number() && std::isfinite(v.get<double>()) && v.get<double>() > 0; }

struct PostedTarget {
  std::string id, virtual_queue, media;
  uint64_t allowed = 0;
  double interval_s = 0;
};

struct Post {
  uint64_t fencing = 0;
  double interval_s = 0;
  std::vector<PostedTarget> targets;
};

// The bulk body per the contract; the reason it is not one otherwise.
Result<Post> validate(const json& body) {
  if (!body.is_object()) return Error{400, "the body must be a JSON object"};
  Post post;
  if (!body.contains("fencingToken") || !is_nonnegative_integer(body["fencingToken"])) {
    return Error{400, "\"fencingToken\" must be an unsigned integer"};
  }
  post.fencing = body["fencingToken"].get<uint64_t>();
  if (!body.contains("intervalSeconds") || !is_positive_number(body["intervalSeconds"])) {
    return Error{400, "\"intervalSeconds\" must be a number > 0"};
  }
  post.interval_s = body["intervalSeconds"].get<double>();
  if (!body.contains("targets") || !body["targets"].is_array()) return Error{400, "\"targets\" must be an array"};
  size_t index = 0;
  for (const json& t : body["targets"]) {
    const std::string where = "targets[" + std::to_string(index++) + "]";
    if (!t.is_object()) return Error{400, where + " must be an object"};
    for (const char* key : {"id", "virtualQueue", "mediaType"}) {
      if (!t.contains(key) || !t[key].is_string()) return Error{400, where + "." + key + " must be a string"};
    }
    if (t["id"].get<std::string>().empty()) return Error{400, where + ".id must not be empty"};
    if (!t.contains("invitationsAllowed") || !is_nonnegative_integer(t["invitationsAllowed"])) {
      return Error{400, where + ".invitationsAllowed must be an integer >= 0"};
    }
    if (!t.contains("intervalSeconds") || !is_positive_number(t["intervalSeconds"])) {
      return Error{400, where + ".intervalSeconds must be a number > 0"};
    }
    post.targets.push_back({t["id"], t["virtualQueue"], t["mediaType"], t["invitationsAllowed"].get<uint64_t>(),
                            t["intervalSeconds"].get<double>()});
  }
  return post;
}

}  // namespace

std::optional<Mode> parse_mode(const std::string& text) {
  for (const auto& [mode, name] : kModes) {
    if (text == name) return mode;
  }
  return std::nullopt;
}

const char* mode_name(Mode mode) {
  for (const auto& [m, name] : kModes) {
    if (m == mode) return name;
  }
  return "?";
}

std::string mode_names() {
  std::string out;
  for (const auto& [mode, name] : kModes) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

EngagementService::EngagementService(uv_loop_t* loop, http::HttpServer& server, Visitors& visitors,
                                     const ProactiveSubmitter& submitter, ServiceOptions options)
    : loop_(loop), visitors_(visitors), submitter_(submitter), options_(std::move(options)) {
  if (options_.targets) {
    for (const auto& [id, target] : *options_.targets) visitors_.add_target(target);
  }
  server.route("POST", options_.token_path, [this](const HttpRequest& r) { return token(r); });
  server.route("POST", options_.bulk_path, [this](const HttpRequest& r) { return answer(bulk(r)); });
  server.route("POST", "/admin/mode", [this](const HttpRequest& r) { return set_mode(r); });
  server.route("POST", "/admin/revoke-tokens", [this](const HttpRequest&) {
    const size_t revoked = tokens_.size();
    tokens_.clear();
    return json_response(200, {{"revoked", revoked}});
  });
  server.route("GET", "/admin/state", [this](const HttpRequest&) { return HttpResponse::json(200, dump(state(), 2) + "\n"); });
}

HttpResponse EngagementService::token(const HttpRequest& request) {
  if (options_.mode == Mode::kUnauthorized) {
    ++token_refusals_;
    return oauth_error(401, "invalid_client", "simulated: mode unauthorized");
  }
  const std::map<std::string, std::string> form = parse_form(request.body);
  std::string id, secret;
  if (auto basic = credentials_of(request.header("authorization"), "basic")) {
    std::optional<std::string> decoded = base64_decode(*basic);
    const size_t colon = decoded ? decoded->find(':') : std::string::npos;
    if (colon == std::string::npos) {
      ++token_refusals_;
      return oauth_error(401, "invalid_client", "the Basic credentials are not base64(client_id:client_secret)");
    }
    id = url_decode(decoded->substr(0, colon));
    secret = url_decode(decoded->substr(colon + 1));
  } else if (form.count("client_id")) {
    id = form.at("client_id");
    secret = form.count("client_secret") ? form.at("client_secret") : "";
  } else {
    ++token_refusals_;
    return oauth_error(401, "invalid_client", "no client credentials (Authorization: Basic ...)");
  }
  auto grant = form.find("grant_type");
  if (grant == form.end()) return oauth_error(400, "invalid_request", "grant_type is missing");
  if (grant->second != "client_credentials") {
    return oauth_error(400, "unsupported_grant_type", "only grant_type=client_credentials is supported");
  }
  if (!constant_time_equal(id, options_.client_id) || !constant_time_equal(secret, options_.client_secret)) {
    ++token_refusals_;
    return oauth_error(401, "invalid_client", "unknown client or wrong secret");
  }
  const uint64_t now = uv_now(loop_);
  std::erase_if(tokens_, [now](const auto& entry) { return entry.second <= now; });
  const std::string token = random_token();
  tokens_[token] = now + options_.token_ttl_ms;
  ++tokens_issued_;
  return json_response(200, {{"access_token", token}, {"token_type", "bearer"}, {"expires_in", options_.token_ttl_ms / 1000}});
}

std::string EngagementService::check_bearer(const HttpRequest& request) {
  std::optional<std::string> bearer = credentials_of(request.header("authorization"), "bearer");
  if (!bearer || bearer->empty()) return "no bearer token";
  auto it = tokens_.find(*bearer);
  if (it == tokens_.end()) return "unknown token";
  if (it->second <= uv_now(loop_)) {
    tokens_.erase(it);
    return "the token has expired";
  }
  return "";
}

HttpResponse EngagementService::answer(HttpResponse response) {
  if (response.withhold) {
    ++stalled_;
  } else {
    ++answers_[response.status];
  }
  return response;
}

HttpResponse EngagementService::bulk(const HttpRequest& request) {
  ++posts_;
  switch (options_.mode) {
    case Mode::kStall: {
      HttpResponse r;
      r.withhold = true;
      return r;
    }
    case Mode::kFail: return json_response(500, {{"error", "simulated failure (mode fail)"}});
    case Mode::kUnauthorized:
    case Mode::kBulkUnauthorized: return json_response(401, {{"error", "simulated: mode " + std::string(mode_name(options_.mode))}});
    default: break;
  }
  if (std::string why = check_bearer(request); !why.empty()) return json_response(401, {{"error", why}});

  json body;
  try {
    body = json::parse(request.body);
  } catch (const json::parse_error& e) {
    return json_response(400, {{"error", std::string("the body is not JSON: ") + e.what()}});
  }
  Result<Post> post = validate(body);
  if (!post) return json_response(400, {{"error", post.error().text}});
  const std::string* header = request.header("x-pacing-fencing-token");
  if (header == nullptr) return json_response(400, {{"error", "the X-Pacing-Fencing-Token header is missing"}});
  std::optional<uint64_t> fencing = parse_unsigned(trim(*header));
  if (!fencing) return json_response(400, {{"error", "X-Pacing-Fencing-Token \"" + *header + "\" is not an unsigned decimal"}});
  if (*fencing != post->fencing) {
    return json_response(400, {{"error", "X-Pacing-Fencing-Token " + std::to_string(*fencing) +
                                             " disagrees with the body's fencingToken " + std::to_string(post->fencing)}});
  }
  const std::string* node_header = request.header("x-pacing-node");
  const std::string node = node_header ? trim(*node_header) : "";
  const bool stale = highest_fencing_ && *fencing < *highest_fencing_;
  if (fencing_.size() >= kMaxFencingEntries) {
    fencing_.erase(fencing_.begin(), fencing_.begin() + kMaxFencingEntries / 10);
    fencing_dropped_ += kMaxFencingEntries / 10;
  }
  fencing_.push_back({*fencing, node, stale});
  if (stale) {
    ++refused_;
    std::cerr << "ixengage: refused a post from " << (node.empty() ? "an unnamed node" : node) << " with stale fencing token "
              << *fencing << " (highest seen " << *highest_fencing_ << ")" << std::endl;
    return json_response(409, {{"error", "stale fencing token " + std::to_string(*fencing) + "; highest seen " +
                                             std::to_string(*highest_fencing_)}});
  }
  highest_fencing_ = *fencing;
  last_post_ = {{"node", node}, {"fencing", *fencing}, {"interval_seconds", post->interval_s}, {"targets", post->targets.size()}};

  json targets = json::array(), errors = json::array();
  for (const PostedTarget& t : post->targets) {
    if (options_.mode == Mode::kTargetErrors) {
      errors.push_back({{"id", t.id}, {"code", "target.simulated"}, {"message", "simulated target error (mode target-errors)"}});
      continue;
    }
    TargetInfo info{t.id, options_.default_tenant, t.media, t.virtual_queue};
    if (options_.targets) {
      auto known = options_.targets->find(t.id);
      if (known == options_.targets->end()) {
        errors.push_back({{"id", t.id}, {"code", "target.unknown"}, {"message", "no such target"}});
        continue;
      }
      info = known->second;
    }
    visitors_.decide(info, t.allowed, t.interval_s);
    const Visitors::Answered answered = visitors_.answered(t.id);
    targets.push_back({{"id", t.id},
                       {"pendingInvitations", visitors_.pending(t.id)},
                       {"invitationsAnswered", answered.answered},
                       {"invitationsAccepted", answered.accepted},
                       {"answerDelaySeconds", answered.delay_seconds}});
  }
  if (options_.mode == Mode::kInvalidJson) {
    // A body cut off in the middle, as a broken gateway would deliver it.
    std::string text = dump(json{{"targets", targets}});
    return HttpResponse::json(200, text.substr(0, text.size() / 2) + "<!-- truncated");
  }
  json out = {{"targets", targets}};
  if (!errors.empty()) out["errors"] = errors;
  return json_response(200, out);
}

HttpResponse EngagementService::set_mode(const HttpRequest& request) {
  json body = json::parse(request.body, nullptr, false);
  if (!body.is_object() || !body.contains("mode") || !body["mode"].is_string()) {
    return json_response(400, {{"error", "expected {\"mode\": \"...\"} with one of: " + mode_names()}});
  }
  std::optional<Mode> mode = parse_mode(body["mode"].get<std::string>());
  if (!mode) {
    return json_response(400, {{"error", "unknown mode \"" + body["mode"].get<std::string>() + "\"; one of: " + mode_names()}});
  }
  if (*mode != options_.mode) std::cerr << "ixengage: mode " << mode_name(options_.mode) << " -> " << mode_name(*mode) << std::endl;
  options_.mode = *mode;
  return json_response(200, {{"mode", mode_name(*mode)}});
}

json EngagementService::state() const {
  json answers = json::object();
  for (const auto& [status, n] : answers_) answers[std::to_string(status)] = n;
  json fencing = json::array();
  for (const Fencing& f : fencing_) fencing.push_back({{"token", f.token}, {"node", f.node}, {"refused", f.refused}});
  return {{"mode", mode_name(options_.mode)},
          {"posts", posts_},
          {"refused", refused_},
          {"stalled", stalled_},
          {"answers", answers},
          {"tokens_issued", tokens_issued_},
          {"token_refusals", token_refusals_},
          {"highest_fencing", highest_fencing_ ? json(*highest_fencing_) : json(nullptr)},
          {"fencing", fencing},
          {"fencing_dropped", fencing_dropped_},
          {"last_post", last_post_},
          {"targets", visitors_.state()},
          {"submitting", submitter_.enabled()},
          {"proxies", submitter_.state()}};
}

}  // namespace ix::engage
