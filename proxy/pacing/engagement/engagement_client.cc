#include "proxy/pacing/engagement/engagement_client.h"

#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>

namespace ix::pacing {

namespace {

// Where distributions keep the system's trusted CAs (BoringSSL has no default store of its own).
std::string system_ca_bundle() {
  if (const char* file = std::getenv("SSL_CERT_FILE"); file != nullptr && *file != '\0') return file;
  for (const char* path : {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                           "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"}) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(path, ec)) return path;
  }
  return {};
}

// What a non-200 answer said, short enough for a log line.
std::string answer_detail(const HttpAnswer& answer) {
  nlohmann::json doc = nlohmann::json::parse(answer.body, nullptr, false);
  if (doc.is_object()) {
    auto error = doc.find("error");
    if (error != doc.end() && error->is_string()) return ": " + error->get<std::string>();
  }
  if (answer.body.empty()) return "";
  std::string text = answer.body.substr(0, 200);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return ": " + text + (answer.body.size() > 200 ? "…" : "");
}

}  // namespace

struct EngagementClient::Post {
  std::vector<std::string> ids;
  std::shared_ptr<const std::string> body;  // shared by every attempt
  uint64_t fencing = 0;
  Clock::time_point deadline;
  Callback callback;
  size_t url_index = 0;
  bool retried_after_401 = false;
  PostResult result;
  std::shared_ptr<HttpExchange> exchange;

  void note(const std::string& what) { result.reason += (result.reason.empty() ? "" : "; ") + what; }
};

Result<std::unique_ptr<EngagementClient>> EngagementClient::create(uv_loop_t* loop, EngagementOptions options) {
  if (options.base_urls.empty()) return Error{0, "the engagement service needs at least one base URL"};
  std::vector<HttpUrl> urls;
  bool any_tls = false;
  for (const std::string& base : options.base_urls) {
    auto url = parse_http_url(join_url(base, options.target_endpoint));
    if (!url) return Error{0, "base URL \"" + base + "\": " + url.error().text};
    any_tls |= url->tls;
    urls.push_back(std::move(*url));
  }
  if (options.auth_url.empty()) return Error{0, "the engagement service needs an auth URL (the OAuth2 token endpoint)"};
  auto auth = parse_http_url(options.auth_url);
  if (!auth) return Error{0, "auth URL: " + auth.error().text};
  any_tls |= auth->tls;
  if (options.client_id.empty() || options.client_secret.empty()) {
    return Error{0, "the engagement service needs a client ID and secret (credentials-file or credentials-env)"};
  }
  if (options.forward_proxy && (options.forward_proxy->host.empty() || options.forward_proxy->port == 0)) {
    return Error{0, "the forward proxy needs a host and a port"};
  }

  TransportSettings settings;
  settings.forward_proxy = options.forward_proxy;
  settings.connect_timeout_ms = options.connect_timeout_ms;
  settings.max_response_bytes = options.max_response_bytes;
  if (options.keep_alive) settings.idle = std::make_shared<IdleConnections>();
  if (any_tls) {
    net::TlsOptions tls;
    tls.verify_peer = true;
    tls.ca_pem = options.ca_pem;
    tls.ca_file = options.ca_file;
    if (tls.ca_pem.empty() && tls.ca_file.empty()) {
      tls.ca_file = system_ca_bundle();
      if (tls.ca_file.empty()) return Error{0, "no ca-file given and no system CA bundle found (set ca-file)"};
    }
    auto context = net::TlsContext::create_client(tls);
    if (!context) return Error{0, "engagement service TLS: " + context.error().text};
    settings.tls = std::move(*context);
  }
  auto tokens = std::make_unique<TokenSource>(loop, std::move(*auth), Credentials{options.client_id, options.client_secret},
                                              settings, options.token_clock);
  return std::unique_ptr<EngagementClient>(
      new EngagementClient(loop, std::move(options), std::move(urls), std::move(settings), std::move(tokens)));
}

EngagementClient::EngagementClient(uv_loop_t* loop, EngagementOptions options, std::vector<HttpUrl> urls,
                                   TransportSettings settings, std::unique_ptr<TokenSource> tokens)
    : loop_(loop),
      options_(std::move(options)),
      target_urls_(std::move(urls)),
      settings_(std::move(settings)),
      tokens_(std::move(tokens)),
      defer_(loop) {}

EngagementClient::~EngagementClient() {
  if (post_ && post_->exchange) post_->exchange->cancel();
  post_.reset();
  tokens_.reset();  // cancels a token fetch in flight
  if (settings_.idle) settings_.idle->clear();
}

void EngagementClient::post_targets(const std::vector<TargetDecision>& decisions, uint64_t fencing,
                                    double interval_seconds, Clock::time_point deadline, Callback callback) {
  if (post_) {
    // The deadline is meant to end a post before the next cycle; if it did not, say so.
    PostResult busy;
    busy.reason = "the previous post to the engagement service has not finished";
    auto shared = std::make_shared<std::pair<PostResult, Callback>>(std::move(busy), std::move(callback));
    busy_.push_back(shared);
    defer_.start(0, [this] {
      auto waiting = std::move(busy_);
      busy_.clear();
      for (auto& entry : waiting) entry->second(std::move(entry->first));
    });
    return;
  }
  post_ = std::make_unique<Post>();
  post_->ids = target_ids(decisions);
  post_->body = std::make_shared<const std::string>(build_bulk_targets_body(decisions, fencing, interval_seconds));
  post_->fencing = fencing;
  post_->deadline = deadline;
  post_->callback = std::move(callback);
  attempt();
}

void EngagementClient::attempt() {
  Post& post = *post_;
  const HttpUrl& url = target_urls_[post.url_index];
  post.result.url = url.text;
  if (const std::string* token = tokens_->fresh()) {
    send(*token);
    return;
  }
  tokens_->fetch(post.deadline, [this](Result<std::string> token) {
    if (!token) {
      post_->note(token.error().text);
      finish();
      return;
    }
    send(*token);
  });
}

void EngagementClient::send(const std::string& token) {
  Post& post = *post_;
  ++post.result.attempts;
  HttpCall call;
  call.method = "POST";
  call.url = target_urls_[post.url_index];
  call.headers = {{"Authorization", "Bearer " + token},
                  {"Content-Type", "application/json"},
                  {"Accept", "application/json"},
                  {"User-Agent", "ixproxy-pacing"},
                  {"X-Pacing-Fencing-Token", std::to_string(post.fencing)}};
  if (!options_.node_id.empty()) call.headers.emplace_back("X-Pacing-Node", options_.node_id);
  call.body = post.body;
  post.exchange = HttpExchange::start(loop_, std::move(call), settings_, post.deadline,
                                      [this](Result<HttpAnswer> result) { on_answer(std::move(result)); });
}

void EngagementClient::on_answer(Result<HttpAnswer> result) {
  Post& post = *post_;
  post.exchange.reset();
  const std::string& url = target_urls_[post.url_index].text;
  if (!result) {
    post.note(result.error().text);
    if (try_next_base_url(static_cast<ExchangeFailure>(result.error().code), 0)) {
      next_url_or_fail();
    } else {
      finish();
    }
    return;
  }
  HttpAnswer& answer = *result;
  post.result.http_status = answer.status;
  if (answer.status == 401) {
    tokens_->invalidate();
    if (!post.retried_after_401 && Clock::now() < post.deadline) {
      post.retried_after_401 = true;
      post.note(url + ": HTTP 401 (token refused; retrying with a new token)");
      attempt();
      return;
    }
    post.note(url + (post.retried_after_401 ? ": HTTP 401 again with a new token" : ": HTTP 401 and no time left to retry") +
              answer_detail(answer));
    finish();
    return;
  }
  if (answer.status != 200) {
    post.note(url + ": HTTP " + std::to_string(answer.status) + answer_detail(answer));
    if (try_next_base_url(ExchangeFailure::kStatus, answer.status)) {
      next_url_or_fail();
    } else {
      finish();
    }
    return;
  }
  auto parsed = parse_bulk_targets_answer(answer.body, post.ids);
  if (!parsed) {
    post.result.outcome = PostResult::Outcome::kInvalid;
    post.result.reason = url + ": invalid response: " + parsed.error().text;
    finish();
    return;
  }
  post.result.outcome = PostResult::Outcome::kOk;
  post.result.reason.clear();
  post.result.pending = std::move(parsed->pending);
  post.result.invitations = std::move(parsed->invitations);
  post.result.errors = std::move(parsed->errors);
  finish();
}

void EngagementClient::next_url_or_fail() {
  Post& post = *post_;
  if (post.url_index + 1 >= target_urls_.size()) {
    finish();
    return;
  }
  if (Clock::now() >= post.deadline) {
    post.note("no time left for " + target_urls_[post.url_index + 1].text);
    finish();
    return;
  }
  ++post.url_index;
  attempt();
}

void EngagementClient::finish() {
  std::unique_ptr<Post> post = std::move(post_);
  if (post->result.outcome == PostResult::Outcome::kFailed && post->result.reason.empty()) {
    post->result.reason = "failed";
  }
  Callback callback = std::move(post->callback);
  callback(std::move(post->result));
}

}  // namespace ix::pacing
