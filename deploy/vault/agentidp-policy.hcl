# Least-privilege Vault policy for AgentIdP (the README's Vault section, "Production").
#
#   vault policy write agentidp deploy/vault/agentidp-policy.hcl
#   vault token create -policy=agentidp -period=768h -display-name=agentidp-service
#
# Assumes the KV v2 engine is mounted at `secret/` (VAULT_KV_MOUNT=secret). For another mount, replace
# `secret` below with its path. Token lookup-self / renew-self, which AgentIdP uses to keep its token
# alive, come from Vault's built-in `default` policy.

# Credential secrets: secret/data/agentidp/agents/{agentId}/credentials/{credentialId}
path "secret/data/agentidp/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Deleting a credential destroys every version of its secret (DELETE on the metadata path).
path "secret/metadata/agentidp/*" {
  capabilities = ["delete"]
}
