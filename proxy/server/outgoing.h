// Outgoing: a request on its way to a node. Usually the client's own verified bytes, re-addressed
// on the way out (wire::readdress_envelope: one memcpy, no re-encoding); a native envelope when
// the proxy built the request or must change it (a pull's count and hold time). Cheap to copy:
// lambdas that send later capture it after keep().
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "protocol/wire/messages.h"

namespace ix::proxy {

class Outgoing {
 public:
  // The client's payload, valid only while its message callback runs.
  static Outgoing borrow(std::span<const uint8_t> payload) {
    Outgoing o;
    o.bytes_ = payload;
    return o;
  }
  template <class NativeMessage>
  static Outgoing of(NativeMessage body) {
    Outgoing o;
    o.native_ = std::make_shared<proto::EnvelopeT>();
    o.native_->body.Set(std::move(body));
    return o;
  }

  // Copies borrowed bytes so that the request can be sent after the callback returned.
  Outgoing& keep() {
    if (!native_ && !owned_) {
      owned_ = std::make_shared<const std::vector<uint8_t>>(bytes_.begin(), bytes_.end());
      bytes_ = *owned_;
    }
    return *this;
  }
  // The request as a native envelope, to read or change (unpacks the bytes once).
  proto::EnvelopeT& native() {
    if (!native_) native_.reset(proto::GetEnvelope(bytes_.data())->UnPack());
    return *native_;
  }
  // A native envelope (built or changed by the proxy); otherwise bytes() are the client's.
  bool is_native() const { return native_ != nullptr; }
  std::span<const uint8_t> bytes() const { return bytes_; }
  wire::Frame encode(uint64_t ref_id, uint64_t client_id) const {
    if (!native_) return wire::readdress_envelope(bytes_, ref_id, client_id);
    native_->ref_id = ref_id;
    native_->client_id = client_id;
    return wire::encode_envelope(*native_);
  }

 private:
  std::span<const uint8_t> bytes_;
  std::shared_ptr<const std::vector<uint8_t>> owned_;
  std::shared_ptr<proto::EnvelopeT> native_;
};

}  // namespace ix::proxy
