//! Integration tests of the pki provider: certificates checked by an independent verifier (openssl),
//! the chain property the multi-mesh topology relies on, planning behaviour and rotation.

mod openssl;
mod planning;
