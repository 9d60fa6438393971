/**
 * What a provider's free-text refusal means, for the two cases that change
 * how the dialer behaves: a bad credential (pause the campaign) and "too fast"
 * (back off without burning the attempt). English and Chinese wordings.
 */

const AUTH = /token|\bauth|unauthori[sz]ed|api[\s_-]*key|credential|password|令牌|授权|鉴权|认证|登录|密钥/i;
const TOO_FAST = /too\s*(fast|frequent|many\s*requests)|frequen|rate[\s_-]*limit|throttl|频繁|过快|太快|限流|频率/i;

/** The message speaks of the token, key or credentials. */
export function speaksOfAuth(message: string): boolean {
  return AUTH.test(message);
}

/** The message says the requests come too fast. */
export function speaksOfRate(message: string): boolean {
  return TOO_FAST.test(message);
}
