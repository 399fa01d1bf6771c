//! The asm provider's credentials are the shared Alibaba Cloud ones ([`meshform_acs::credentials`]):
//! re-exported here so callers of the provider name them where they configure it.

pub use meshform_acs::credentials::*;
