import { describe, expect, it } from 'vitest';
import { campaignOfField } from '../../src/reports/metrics-tally.js';

describe('campaignOfField', () => {
  it('names the campaign of a campaign series, none for a deployment-wide one or a field it does not know', () => {
    expect(campaignOfField('["dials","sipcall","c1","accepted"]')).toBe('c1');
    expect(campaignOfField('["attempt_results","c2","no_result"]')).toBe('c2');
    expect(campaignOfField('["provider_errors","sipcall","timeout"]')).toBeNull();
    expect(campaignOfField('["provider_request","sipcall","accepted","b",3]')).toBeNull();
    expect(campaignOfField('["dial_to_result","sipcall","answered","sum"]')).toBeNull();
    expect(campaignOfField('["unknown","c3"]')).toBeNull();
    expect(campaignOfField('not json')).toBeNull();
    expect(campaignOfField('{"dials":1}')).toBeNull();
  });
});
