/**
 * STS (query protocol): GetCallerIdentity for the key's principal, and AssumeRole, which issues fresh temporary
 * credentials that later calls then act under (https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html).
 */
import { AwsError } from './errors.js'
import type { Identities } from './identity.js'
import { secretAccessKey, sessionToken, temporaryAccessKeyId } from './ids.js'
import { createQueryService, element, required, text, type QueryAction } from './query.js'
import type { AwsService } from './service.js'
import type { AwsWorld } from './world.js'

const STS_XMLNS = 'https://sts.amazonaws.com/doc/2011-06-15/'
const ROLE_ARN = /^arn:aws:iam::(\d{12}):role(\/(?:.*\/)?)([\w+=,.@-]+)$/
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/
/** Every seeded role has the default MaxSessionDuration. */
const MAX_SESSION_SECONDS = 3600

export function createStsService(world: AwsWorld, identities: Identities): AwsService {
  const getCallerIdentity: QueryAction = ({ caller }) => text('Arn', caller.arn) + text('UserId', caller.userId) + text('Account', caller.account)

  const assumeRole: QueryAction = ({ params, caller }) => {
    const roleArn = required(params, 'RoleArn')
    const sessionName = required(params, 'RoleSessionName')
    if (!SESSION_NAME.test(sessionName)) {
      throw new AwsError('ValidationError', 400, `1 validation error detected: Value '${sessionName}' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*`)
    }
    const durationParam = params.get('DurationSeconds')
    const duration = durationParam === undefined ? 3600 : Number(durationParam)
    if (!Number.isInteger(duration) || duration < 900 || duration > 43_200) {
      throw new AwsError('ValidationError', 400, `1 validation error detected: Value '${durationParam}' at 'durationSeconds' failed to satisfy constraint: Member must have value between 900 and 43200`)
    }
    if (duration > MAX_SESSION_SECONDS) {
      throw new AwsError('ValidationError', 400, 'The requested DurationSeconds exceeds the MaxSessionDuration set for this role.')
    }
    const parsed = ROLE_ARN.exec(roleArn)
    if (!parsed) throw new AwsError('ValidationError', 400, `${roleArn} is not a valid role ARN`)
    const [, account, path, roleName] = parsed as unknown as [string, string, string, string]
    const role = world.existingAccount(account)?.iam.role.get(roleName.toLowerCase())
    if (!role || role.path !== path) {
      throw new AwsError('AccessDenied', 403, `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`)
    }
    const accessKeyId = temporaryAccessKeyId()
    const session = identities.registerSession(accessKeyId, account, role.name, sessionName)
    const expiration = new Date(Date.now() + duration * 1000).toISOString()
    return (
      element(
        'Credentials',
        text('AccessKeyId', accessKeyId) + text('SecretAccessKey', secretAccessKey()) + text('SessionToken', sessionToken()) + text('Expiration', expiration),
      ) + element('AssumedRoleUser', text('AssumedRoleId', session.userId) + text('Arn', session.arn))
    )
  }

  return createQueryService({
    api: 'sts',
    version: '2011-06-15',
    xmlns: STS_XMLNS,
    actions: { GetCallerIdentity: getCallerIdentity, AssumeRole: assumeRole },
    faultError: (decision) =>
      decision.kind === 'throttle'
        ? new AwsError('Throttling', 400, 'Rate exceeded')
        : new AwsError('InternalFailure', 500, 'The request processing has failed because of an unknown error, exception or failure.'),
  })
}
