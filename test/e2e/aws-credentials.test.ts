/**
 * AWS credentials as an operator meets them, through the CLI against moto, with the AWS CLI on the same config file
 * as the reference: a profile's settings (endpoint_url, region, keys) are honoured as `aws --profile` honours them,
 * the runbook's profile wins over AWS_PROFILE, and missing credentials or an unreachable STS are reported as what
 * they are (exit 3, the cause, the fix), never as a caller outside the authority.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, inject, it } from 'vitest'
import { runCli } from './harness.js'

const run = promisify(execFile)
const MOTO_USER = 'arn:aws:sts::123456789012:user/moto'
const role = `ks-cred-${randomUUID().slice(0, 8)}`

let dir: string
let awsFiles: Record<string, string>

/** A runbook whose one step denies the test's role; its authority is the moto caller. */
async function runbook(profile?: string): Promise<string> {
  const file = join(dir, `runbook-${profile ?? 'none'}.yaml`)
  await writeFile(
    file,
    JSON.stringify({
      apiVersion: 'killswitch/v1',
      kind: 'Runbook',
      metadata: { name: 'aws-credentials' },
      authority: { principals: [MOTO_USER] },
      credentials: { aws: { region: 'eu-west-1', ...(profile ? { profile } : {}) } },
      slo: { agent: '10s', class: '30s', global: '60s' },
      classes: ['refund'],
      scopes: { class: { steps: [{ denyAll: { roles: { names: [role] } } }] } },
    }),
  )
  return file
}

const halt = (file: string, env: Record<string, string>) =>
  runCli(['halt', '--runbook', file, '--scope', 'class=refund', '--reason', 'credentials e2e', '--yes', '--json', '--state-dir', join(dir, 'state')], env)

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aws-credentials-'))
  const config = join(dir, 'config')
  const credentials = join(dir, 'credentials')
  // The break-glass profile: its endpoint is moto, only the profile says so.
  await writeFile(config, `[profile breakglass]\nregion = eu-west-1\nendpoint_url = ${inject('motoUrl')}\n\n[profile elsewhere]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:1\n`)
  await writeFile(credentials, '[breakglass]\naws_access_key_id = AKIDBREAKGLASS\naws_secret_access_key = breakglass-test-only\n\n[elsewhere]\naws_access_key_id = AKIDELSEWHERE\naws_secret_access_key = elsewhere-test-only\n')
  awsFiles = { AWS_CONFIG_FILE: config, AWS_SHARED_CREDENTIALS_FILE: credentials }
  await run('aws', ['iam', 'create-role', '--profile', 'breakglass', '--role-name', role, '--assume-role-policy-document', '{"Version":"2012-10-17","Statement":[]}'], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, ...awsFiles },
  })
})

describe('the runbook profile, as the AWS CLI reads it', () => {
  it('reaches the endpoint and identity the AWS CLI sees for the same profile, whatever AWS_PROFILE says', async () => {
    const cli = await run('aws', ['sts', 'get-caller-identity', '--profile', 'breakglass', '--output', 'json'], { env: { PATH: process.env.PATH ?? '', HOME: dir, ...awsFiles } })
    const awsCliArn = JSON.parse(cli.stdout).Arn as string
    expect(awsCliArn).toBe(MOTO_USER)

    // AWS_PROFILE names a profile whose endpoint answers nothing: the runbook's profile must win.
    const r = await halt(await runbook('breakglass'), { HOME: dir, ...awsFiles, AWS_PROFILE: 'elsewhere' })
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
    expect(r.json.error).toBeNull()
    expect(r.code).toBe(0)
    expect(r.json.result.invoker.arn).toBe(awsCliArn)
    expect(r.json.result.targets).toEqual([expect.objectContaining({ label: `role/${role}`, status: 'halted' })])

    const policy = await run('aws', ['iam', 'get-role-policy', '--profile', 'breakglass', '--role-name', role, '--policy-name', 'killswitch-deny-all', '--output', 'json'], {
      env: { PATH: process.env.PATH ?? '', HOME: dir, ...awsFiles },
    })
    expect(JSON.parse(policy.stdout).PolicyDocument.Statement[0]).toMatchObject({ Effect: 'Deny', Action: '*', Resource: '*' })
  })
})

describe('credentials that do not work are reported as such', () => {
  it('a profile that does not exist: exit 3, the profile named, no authority or --override-authority', async () => {
    const r = await halt(await runbook('no-such-profile'), { HOME: dir, ...awsFiles })
    expect(r.code).toBe(3)
    expect(r.json.error.code).toBe('AwsCredentialsUnavailable')
    expect(r.json.error.message).toContain("the runbook's profile no-such-profile")
    expect(r.json.error.hint).toContain('aws sts get-caller-identity --profile no-such-profile')
    expect(JSON.stringify(r.json)).not.toMatch(/authority/)
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/)
  })

  it('no credentials anywhere: exit 3 with what to set', async () => {
    const r = await halt(await runbook(), { HOME: dir, AWS_CONFIG_FILE: join(dir, 'absent'), AWS_SHARED_CREDENTIALS_FILE: join(dir, 'absent'), AWS_EC2_METADATA_DISABLED: 'true' })
    expect(r.code).toBe(3)
    expect(r.json.error.code).toBe('AwsCredentialsUnavailable')
    expect(r.json.error.hint).toContain('credentials.aws.profile')
    expect(JSON.stringify(r.json)).not.toMatch(/override-authority/)
  })

  it('STS out of reach: exit 3 naming the endpoint', async () => {
    const r = await halt(await runbook(), { HOME: dir, AWS_ENDPOINT_URL: 'http://127.0.0.1:1', AWS_ACCESS_KEY_ID: 'AKIDUNREACHABLE', AWS_SECRET_ACCESS_KEY: 'unreachable-test-only', AWS_MAX_ATTEMPTS: '1' })
    expect(r.code).toBe(3)
    expect(r.json.error.code).toBe('AwsStsUnreachable')
    expect(r.json.error.message).toContain('STS is unreachable at http://127.0.0.1:1')
    expect(r.stdout + r.stderr).not.toContain('unreachable-test-only')
  })
})
